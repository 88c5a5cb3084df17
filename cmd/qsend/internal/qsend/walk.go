package qsend

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/limpetnet/limpet/cmd/qsend/internal/wire"
)

// localEntry is a manifest entry with the local file it comes from.
type localEntry struct {
	wire.Entry
	local string
}

// buildManifest lists what the sender will send: each argument arrives
// under its base name, and directories are walked whole. Symbolic links
// named on the command line are followed (the user pointed at them);
// inside a tree they are skipped with a warning, like special files, so a
// link cannot pull in files from elsewhere or loop. Every file is opened
// once here so that a missing or unreadable file fails before connecting.
func buildManifest(args []string, warn func(format string, args ...any)) ([]localEntry, error) {
	var out []localEntry
	from := make(map[string]string) // top-level name → argument
	for _, arg := range args {
		info, err := os.Stat(arg)
		if err != nil {
			return nil, failf("%s", describePathError(arg, err))
		}
		name, err := topLevelName(arg)
		if err != nil {
			return nil, err
		}
		if prev, dup := from[name]; dup {
			return nil, failf("%s and %s would both arrive as %s; send them in separate commands", prev, arg, name)
		}
		from[name] = arg
		switch {
		case info.Mode().IsRegular():
			e, err := fileEntry(arg, name, info)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		case info.IsDir():
			tree, err := walkTree(arg, name, warn)
			if err != nil {
				return nil, err
			}
			out = append(out, tree...)
		default:
			return nil, failf("%s: not a regular file or directory", arg)
		}
		if len(out) > wire.MaxEntries {
			return nil, failf("more than %d files and directories; send the tree in parts", wire.MaxEntries)
		}
	}
	for _, e := range out {
		if err := wire.ValidatePath(e.Path); err != nil {
			return nil, failf("cannot send %s: %v", e.local, err)
		}
	}
	return out, nil
}

// topLevelName is the name arg arrives under: its base name, or for "." and
// the like the base name of the directory it stands for.
func topLevelName(arg string) (string, error) {
	name := filepath.Base(filepath.Clean(arg))
	if name == "." || name == ".." {
		abs, err := filepath.Abs(arg)
		if err != nil {
			return "", failf("%s: %v", arg, err)
		}
		name = filepath.Base(abs)
	}
	if name == string(filepath.Separator) || name == "" {
		return "", failf("%s: cannot send a whole file system root; name the directories inside it", arg)
	}
	return name, nil
}

func walkTree(dir, name string, warn func(string, ...any)) ([]localEntry, error) {
	var out []localEntry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return failf("%s", describePathError(p, err))
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return failf("%s: %v", p, err)
		}
		remote := name
		if rel != "." {
			remote = name + "/" + filepath.ToSlash(rel)
		}
		switch t := d.Type(); {
		case t&fs.ModeSymlink != 0:
			warn("skipping symbolic link %s", p)
			return nil
		case t.IsDir():
			info, err := d.Info()
			if err != nil {
				return failf("%s", describePathError(p, err))
			}
			out = append(out, localEntry{Entry: wire.Entry{Path: remote, Kind: wire.KindDir, Mode: info.Mode().Perm(), ModTime: info.ModTime().UnixNano()}, local: p})
		case t.IsRegular():
			info, err := d.Info()
			if err != nil {
				return failf("%s", describePathError(p, err))
			}
			e, err := fileEntry(p, remote, info)
			if err != nil {
				return err
			}
			out = append(out, e)
		default:
			warn("skipping %s: not a regular file or directory", p)
		}
		if len(out) > wire.MaxEntries {
			return failf("more than %d files and directories; send the tree in parts", wire.MaxEntries)
		}
		return nil
	})
	return out, err
}

func fileEntry(local, remote string, info fs.FileInfo) (localEntry, error) {
	f, err := os.Open(local)
	if err != nil {
		return localEntry{}, failf("%s", describePathError(local, err))
	}
	f.Close()
	return localEntry{
		Entry: wire.Entry{Path: remote, Kind: wire.KindFile, Mode: info.Mode().Perm(), ModTime: info.ModTime().UnixNano(), Size: info.Size()},
		local: local,
	}, nil
}

// describePathError words a local file error as "PATH: reason", the way
// cp and ls do.
func describePathError(p string, err error) string {
	var reason string
	switch {
	case errors.Is(err, fs.ErrNotExist):
		reason = "no such file or directory"
	case errors.Is(err, fs.ErrPermission):
		reason = "permission denied"
	default:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			reason = pe.Err.Error()
		} else {
			reason = err.Error()
		}
	}
	return fmt.Sprintf("%s: %s", strings.TrimSuffix(p, string(filepath.Separator)), reason)
}
