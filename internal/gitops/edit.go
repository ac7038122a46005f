// Package gitops delivers image digests through a GitOps repository: it edits
// manifests byte for byte (package manifest), commits
// with deployment trailers, pushes with retry on concurrent updates, refuses
// silent rollbacks, promotes between environments and reads the history back.
package gitops

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/slipway-ci/slipway/internal/manifest"
)

// Image is a digest-pinned image reference.
type Image struct {
	Repo   string // registry.example.com/team/app
	Digest string // sha256:<64 hex>
}

// String is REPO@sha256:….
func (i Image) String() string { return i.Repo + "@" + i.Digest }

// Short is the first 12 hex of the digest, for commit subjects and branches.
func (i Image) Short() string { return strings.TrimPrefix(i.Digest, "sha256:")[:12] }

var digestRefRE = regexp.MustCompile(`^([a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::[\w][\w.-]{0,127})?@(sha256:[0-9a-f]{64})$`)

// ImageTag is the tag of REPO:TAG@sha256:…, "" when there is none.
func ImageTag(s string) string {
	if m := digestRefRE.FindStringSubmatch(s); m != nil {
		ref, _, _ := strings.Cut(s, "@")
		if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
			return ref[i+1:]
		}
	}
	return ""
}

// ErrNotDigest marks an image given by tag only.
var ErrNotDigest = fmt.Errorf("not a digest reference")

// ParseImage accepts REPO@sha256:<64 hex> (a tag before the digest is dropped:
// the digest is what deploys). A tag-only reference is refused.
func ParseImage(s string) (Image, error) {
	m := digestRefRE.FindStringSubmatch(s)
	if m == nil {
		if !strings.Contains(s, "@sha256:") {
			return Image{}, fmt.Errorf("image %q: %w: Slipway deploys digests only; pass REPO@sha256:<64 hex> (the last line of `ci push`)", s, ErrNotDigest)
		}
		return Image{}, fmt.Errorf("image %q: want REPO@sha256:<64 hex>", s)
	}
	return Image{Repo: m[1], Digest: m[2]}, nil
}

// Change is the result of an edit: what the file held and holds now, the
// changed lines, and every entry that belongs to the app (see
// manifest.Result).
type Change = manifest.Result

// ErrNoMatch means the file has no entry for the app or image.
var ErrNoMatch = manifest.ErrNoMatch

// Edit rewrites the image for app in a manifest: a kustomization's or
// Component's images: entry, the containers of workloads (Deployment,
// StatefulSet, DaemonSet, Job, CronJob, Argo Rollout), Helm values. Only
// the bytes of the image reference change (see package manifest).
func Edit(file string, data []byte, app string, img Image) ([]byte, Change, error) {
	return manifest.Edit(file, data, manifest.Set{App: app, Repo: img.Repo, Digest: img.Digest})
}

// EditSet is Edit with everything a manifest.Set says (a tag, Helm value
// paths, known repositories).
func EditSet(file string, data []byte, s manifest.Set) ([]byte, Change, error) {
	return manifest.Edit(file, data, s)
}

// currentImage reads the digest an environment's manifest deploys, with the
// matcher deploy edits with.
func currentImage(file string, data []byte, app string, values *manifest.Values, repos ...string) (Image, error) {
	ref, err := manifest.CurrentSet(file, data, manifest.Set{App: app, Repos: repos, Values: values})
	if err != nil {
		return Image{}, err
	}
	img, err := ParseImage(ref)
	if err != nil {
		return Image{}, fmt.Errorf("%s: %s is not deployed by digest (%w)", file, app, err)
	}
	return img, nil
}
