// Package imagelock reads and rewrites Slipway's image lock: the one file that
// names every container image the pipeline runs, each by tag and digest.
//
// The format is deliberately tiny so people, grep and Renovate's regex manager
// read it alike: one "name: repository:tag@sha256:<64 hex>" per line, "#"
// comments and blank lines kept verbatim across rewrites.
package imagelock

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// Required names the images the pipeline cannot run without.
var Required = []string{"go", "golangci-lint", "trivy", "distroless"}

// Image is one pinned image.
type Image struct {
	Name   string // the lock key: "go", "trivy", ...
	Repo   string // "golang", "gcr.io/distroless/static-debian12"
	Tag    string // "1.26-bookworm"
	Digest string // "sha256:<64 hex>"
}

// Ref is the reference the engine pulls: repository, tag and digest together.
// The digest decides what is pulled; the tag is kept for people and Renovate.
func (i Image) Ref() string { return i.Repo + ":" + i.Tag + "@" + i.Digest }

// TagRef is the mutable reference that `pin` re-resolves.
func (i Image) TagRef() string { return i.Repo + ":" + i.Tag }

// Lock is a parsed image lock, with its original lines for rewriting.
type Lock struct {
	Source string // file path, or "built-in"
	images map[string]Image
	lines  []string
	index  map[string]int // name -> line
}

var (
	lineRE   = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9_.-]*):\s*(\S+)\s*$`)
	refRE    = regexp.MustCompile(`^([a-z0-9][a-z0-9._/:-]*?):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})@(sha256:[0-9a-f]{64})$`)
	badTrivy = regexp.MustCompile(`(^|/)trivy:v?0\.69\.[456]($|[^0-9])`)
)

// Parse reads a lock from data; source names it in errors.
func Parse(source string, data []byte) (*Lock, error) {
	l := &Lock{Source: source, images: map[string]Image{}, index: map[string]int{}}
	l.lines = strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	for n, line := range l.lines {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		m := lineRE.FindStringSubmatch(trimmed)
		if m == nil {
			return nil, fmt.Errorf("image lock %s line %d: want \"name: repository:tag@sha256:<digest>\", got %q", source, n+1, trimmed)
		}
		img, err := parseRef(m[1], m[2])
		if err != nil {
			return nil, fmt.Errorf("image lock %s line %d: %w", source, n+1, err)
		}
		if _, dup := l.images[img.Name]; dup {
			return nil, fmt.Errorf("image lock %s line %d: %q is listed twice", source, n+1, img.Name)
		}
		l.images[img.Name] = img
		l.index[img.Name] = n
	}
	for _, name := range Required {
		if _, ok := l.images[name]; !ok {
			return nil, fmt.Errorf("image lock %s: missing %q (required: %s)", source, name, strings.Join(Required, ", "))
		}
	}
	return l, nil
}

func parseRef(name, ref string) (Image, error) {
	m := refRE.FindStringSubmatch(ref)
	if m == nil {
		return Image{}, fmt.Errorf("%s: %q must be repository:tag@sha256:<64 hex> (pin by digest; the tag is kept for people and Renovate)", name, ref)
	}
	if badTrivy.MatchString(m[1] + ":" + m[2]) {
		return Image{}, fmt.Errorf("%s: %s is a compromised Trivy release (GHSA-69fq-xp46-6x23); pin 0.69.3 or a release after the incident", name, m[1]+":"+m[2])
	}
	return Image{Name: name, Repo: m[1], Tag: m[2], Digest: m[3]}, nil
}

// Load reads a lock file.
func Load(path string) (*Lock, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read image lock: %w", err)
	}
	return Parse(path, data)
}

// Get returns the named image.
func (l *Lock) Get(name string) (Image, bool) {
	img, ok := l.images[name]
	return img, ok
}

// MustGet returns a required image; Parse guarantees those exist.
func (l *Lock) MustGet(name string) Image {
	img, ok := l.images[name]
	if !ok {
		panic("imagelock: " + name + " is not in the lock")
	}
	return img
}

// Images returns every image, sorted by name.
func (l *Lock) Images() []Image {
	out := make([]Image, 0, len(l.images))
	for _, img := range l.images {
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SetDigest repins one image, keeping its tag.
func (l *Lock) SetDigest(name, digest string) error {
	img, ok := l.images[name]
	if !ok {
		return fmt.Errorf("image lock %s: no image %q", l.Source, name)
	}
	img.Digest = digest
	if _, err := parseRef(name, img.Ref()); err != nil {
		return err
	}
	l.images[name] = img
	line := l.lines[l.index[name]]
	indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
	l.lines[l.index[name]] = indent + name + ": " + img.Ref()
	return nil
}

// Bytes renders the lock with its comments and order intact.
func (l *Lock) Bytes() []byte {
	var b bytes.Buffer
	for _, line := range l.lines {
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}
