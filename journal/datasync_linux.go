package journal

import (
	"os"
	"syscall"
)

// datasync flushes f's data, and its metadata only where needed to read
// the data back: no timestamps.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
