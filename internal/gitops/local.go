package gitops

import (
	"os"
	"strconv"
	"sync"
)

// localFilters lets the git-upload-pack that serves a local GitOps
// repository (a path or file:// URL: go-git runs the machine's own
// git-upload-pack for it, as a child of this process) send partial clones
// and single objects, whatever the repository's configuration says: the
// repository is read by this process only, so nothing is exposed that the
// process could not read anyway. Without it a deploy into a local
// repository clones it whole, and its cost grows with other apps' large
// files. The settings are git's command-line scope (GIT_CONFIG_COUNT),
// added once to this process's environment after any the caller set; they
// concern upload-pack alone, which Slipway runs only to read a local
// repository.
var localFilters = sync.OnceFunc(func() {
	n, err := strconv.Atoi(os.Getenv("GIT_CONFIG_COUNT"))
	if err != nil || n < 0 {
		n = 0
	}
	for i, kv := range [][2]string{
		{"uploadpack.allowFilter", "true"},
		{"uploadpack.allowAnySHA1InWant", "true"},
	} {
		_ = os.Setenv("GIT_CONFIG_KEY_"+strconv.Itoa(n+i), kv[0])
		_ = os.Setenv("GIT_CONFIG_VALUE_"+strconv.Itoa(n+i), kv[1])
	}
	_ = os.Setenv("GIT_CONFIG_COUNT", strconv.Itoa(n+2))
})
