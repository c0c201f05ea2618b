package tlsreload

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// settle is how long Watch waits after the last change in a burst before reloading, so
// a certificate and key written one after the other are read together.
const settle = 200 * time.Millisecond

// Watch reloads c whenever the directories holding its files change, until ctx ends.
// It watches directories, not files: cert-manager, certbot and Kubernetes Secret volumes
// replace files by renaming new ones (or a symlink) into place, which a watch on the
// old file would never see. Any change in those directories triggers a reload after a
// short settling time; an unchanged pair is a no-op and a broken one keeps the old.
// It returns an error only when the watch cannot be set up.
func (c *Cert) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("tlsreload: watch: %w", err)
	}
	defer w.Close()
	dirs := map[string]bool{}
	for _, f := range []string{c.certFile, c.keyFile} {
		d := filepath.Dir(f)
		if dirs[d] {
			continue
		}
		dirs[d] = true
		if err := w.Add(d); err != nil {
			return fmt.Errorf("tlsreload: watch %s: %w", d, err)
		}
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	gone := false // a watched directory is missing (logged once)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			c.log.Debug("tls: file change", "name", ev.Name, "op", ev.Op.String())
			timer.Reset(settle)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			// An overflow loses events: reload to be sure.
			c.log.Warn("tls: file watch error; reloading to be safe", "err", err)
			timer.Reset(settle)
		case <-timer.C:
			// A directory replaced as a whole (removed or renamed, then made anew) has
			// lost its watch: watch whatever now has its name. Adding a watched one again
			// is a no-op. While one is missing, look again every second.
			missing := ""
			for d := range dirs {
				if err := w.Add(d); err != nil {
					missing = d
				}
			}
			if missing != "" {
				if !gone {
					c.log.Warn("tls: certificate directory is gone; still serving the previous certificate", "dir", missing)
				}
				gone = true
				timer.Reset(time.Second)
				continue
			}
			gone = false
			_ = c.Reload() // logged by Reload
		}
	}
}
