//go:build darwin

package version

import (
	"os"
	"syscall"
)

// statID is what names a file's version besides its size and modification
// time: its inode and status change time (which no tool can set back).
func statID(fi os.FileInfo) (ino uint64, ctimeNs int64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return st.Ino, st.Ctimespec.Nano(), true
}
