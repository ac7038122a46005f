package argocd

import (
	"strings"
	"time"
)

// The fields of Argo CD's Application (argoproj.io/v1alpha1) that a wait
// reads, as its REST API serves them. Everything else is ignored.

// Application is an Argo CD Application.
type Application struct {
	Metadata Metadata `json:"metadata"`
	Spec     AppSpec  `json:"spec"`
	Status   Status   `json:"status"`
}

// Metadata names an object.
type Metadata struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// AppSpec is where an Application's manifests come from and how it syncs.
type AppSpec struct {
	Project    string      `json:"project,omitempty"`
	Source     *Source     `json:"source,omitempty"`
	Sources    []Source    `json:"sources,omitempty"`
	SyncPolicy *SyncPolicy `json:"syncPolicy,omitempty"`
}

// Source is a repository, a path in it and the revision it tracks.
type Source struct {
	RepoURL        string `json:"repoURL"`
	Path           string `json:"path,omitempty"`
	TargetRevision string `json:"targetRevision,omitempty"`
	Chart          string `json:"chart,omitempty"`
}

// SyncPolicy is nil-Automated for a manually synced Application.
type SyncPolicy struct {
	Automated *Automated `json:"automated,omitempty"`
}

// Automated is automatic sync; Enabled (Argo CD 3.1+) can switch it off
// while keeping its settings.
type Automated struct {
	Prune    bool  `json:"prune,omitempty"`
	SelfHeal bool  `json:"selfHeal,omitempty"`
	Enabled  *bool `json:"enabled,omitempty"`
}

// Status is what the application controller observed.
type Status struct {
	Sync           SyncStatus       `json:"sync"`
	Health         Health           `json:"health"`
	Resources      []ResourceStatus `json:"resources,omitempty"`
	Conditions     []Condition      `json:"conditions,omitempty"`
	History        []HistoryEntry   `json:"history,omitempty"`
	OperationState *OperationState  `json:"operationState,omitempty"`
	ReconciledAt   *time.Time       `json:"reconciledAt,omitempty"`
}

// SyncStatus is Synced, OutOfSync or Unknown, at a revision (Revisions for
// several sources).
type SyncStatus struct {
	Status    string   `json:"status"`
	Revision  string   `json:"revision,omitempty"`
	Revisions []string `json:"revisions,omitempty"`
}

// Health is Healthy, Progressing, Degraded, Suspended, Missing or Unknown.
type Health struct {
	Status             string     `json:"status"`
	Message            string     `json:"message,omitempty"`
	LastTransitionTime *time.Time `json:"lastTransitionTime,omitempty"`
}

// ResourceStatus is one managed resource's sync and health.
type ResourceStatus struct {
	Group     string  `json:"group,omitempty"`
	Kind      string  `json:"kind"`
	Namespace string  `json:"namespace,omitempty"`
	Name      string  `json:"name"`
	Status    string  `json:"status,omitempty"`
	Health    *Health `json:"health,omitempty"`
}

// Condition is an error or warning Argo CD attached to the Application
// (ComparisonError, SyncError, InvalidSpecError, …).
type Condition struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// HistoryEntry is one completed sync, with Argo CD's own id.
type HistoryEntry struct {
	ID              int64      `json:"id"`
	Revision        string     `json:"revision,omitempty"`
	Revisions       []string   `json:"revisions,omitempty"`
	DeployedAt      time.Time  `json:"deployedAt"`
	DeployStartedAt *time.Time `json:"deployStartedAt,omitempty"`
}

// OperationState is the last (or running) sync operation.
type OperationState struct {
	Operation  Operation   `json:"operation"`
	Phase      string      `json:"phase"` // Running, Terminating, Failed, Error, Succeeded
	Message    string      `json:"message,omitempty"`
	SyncResult *SyncResult `json:"syncResult,omitempty"`
	StartedAt  time.Time   `json:"startedAt"`
	FinishedAt *time.Time  `json:"finishedAt,omitempty"`
	// RetryCount is how many times Argo CD retried the operation (an
	// automated sync retries 5 times by default, Phase Running meanwhile).
	RetryCount int64 `json:"retryCount,omitempty"`
}

// Operation is what was asked.
type Operation struct {
	Sync *SyncOperation `json:"sync,omitempty"`
}

// SyncOperation is a sync of a revision.
type SyncOperation struct {
	Revision  string   `json:"revision,omitempty"`
	Revisions []string `json:"revisions,omitempty"`
}

// SyncResult is what a sync did, resource by resource.
type SyncResult struct {
	Revision  string           `json:"revision,omitempty"`
	Revisions []string         `json:"revisions,omitempty"`
	Resources []ResourceResult `json:"resources,omitempty"`
}

// ResourceResult is one resource's outcome in a sync.
type ResourceResult struct {
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Status    string `json:"status,omitempty"` // Synced, SyncFailed, Pruned, PruneSkipped
	Message   string `json:"message,omitempty"`
	HookPhase string `json:"hookPhase,omitempty"`
}

// ResourceTree is the live resources of an Application with their health
// (Argo CD 3 keeps resource health out of the Application's status unless
// configured to persist it).
type ResourceTree struct {
	Nodes []ResourceNode `json:"nodes"`
}

// ResourceNode is one live resource.
type ResourceNode struct {
	Group      string     `json:"group,omitempty"`
	Kind       string     `json:"kind"`
	Namespace  string     `json:"namespace,omitempty"`
	Name       string     `json:"name"`
	Health     *Health    `json:"health,omitempty"`
	Info       []InfoItem `json:"info,omitempty"`
	ParentRefs []struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	} `json:"parentRefs,omitempty"`
}

// InfoItem is a name and value Argo CD shows next to a resource.
type InfoItem struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Automatic reports whether the Application syncs by itself.
func (a *Application) Automatic() bool {
	p := a.Spec.SyncPolicy
	return p != nil && p.Automated != nil && (p.Automated.Enabled == nil || *p.Automated.Enabled)
}

// Sources lists the Application's sources (one, or several).
func (a *Application) sources() []Source {
	if len(a.Spec.Sources) > 0 {
		return a.Spec.Sources
	}
	if a.Spec.Source != nil {
		return []Source{*a.Spec.Source}
	}
	return nil
}

// revisions are the revisions Argo CD compared against, one per source.
func (s SyncStatus) revisions() []string {
	if len(s.Revisions) > 0 {
		return s.Revisions
	}
	if s.Revision != "" {
		return []string{s.Revision}
	}
	return nil
}

func (o *OperationState) revisions() []string {
	if o.SyncResult != nil {
		if len(o.SyncResult.Revisions) > 0 {
			return o.SyncResult.Revisions
		}
		if o.SyncResult.Revision != "" {
			return []string{o.SyncResult.Revision}
		}
	}
	if o.Operation.Sync != nil {
		if len(o.Operation.Sync.Revisions) > 0 {
			return o.Operation.Sync.Revisions
		}
		if o.Operation.Sync.Revision != "" {
			return []string{o.Operation.Sync.Revision}
		}
	}
	return nil
}

func (h HistoryEntry) revisions() []string {
	if len(h.Revisions) > 0 {
		return h.Revisions
	}
	if h.Revision != "" {
		return []string{h.Revision}
	}
	return nil
}

func resourceName(group, kind, ns, name string) string {
	k := kind
	if group != "" {
		k = kind + "." + group
	}
	if ns != "" {
		return k + " " + ns + "/" + name
	}
	return k + " " + name
}

// oneLine folds a message Argo CD may spread over lines.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
