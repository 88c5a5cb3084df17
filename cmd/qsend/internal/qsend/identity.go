package qsend

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/limpetnet/limpet/crypto"
)

// Env is the part of the process environment qsend reads, passed in so that
// tests can point it at temporary directories.
type Env struct {
	Home          string // $HOME
	XDGConfigHome string // $XDG_CONFIG_HOME
}

// EnvFromOS reads Env from the process environment.
func EnvFromOS() Env {
	return Env{Home: os.Getenv("HOME"), XDGConfigHome: os.Getenv("XDG_CONFIG_HOME")}
}

// configDir is $XDG_CONFIG_HOME/qsend, or ~/.config/qsend.
func (e Env) configDir() (string, error) {
	if filepath.IsAbs(e.XDGConfigHome) {
		return filepath.Join(e.XDGConfigHome, "qsend"), nil
	}
	if e.Home == "" {
		return "", errors.New("neither $XDG_CONFIG_HOME nor $HOME is set, so there is no place for qsend's key and known_hosts (pass --key and --pin)")
	}
	return filepath.Join(e.Home, ".config", "qsend"), nil
}

// defaultKeyPath is where a sender keeps its identity and keygen writes by
// default.
func (e Env) defaultKeyPath() (string, error) {
	dir, err := e.configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "key"), nil
}

// knownHostsPath is the trust-on-first-use record of receivers' keys.
func (e Env) knownHostsPath() (string, error) {
	dir, err := e.configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "known_hosts"), nil
}

// loadKey reads a private key file, with a message that names the flag.
func loadKey(path string) (crypto.PrivateKey, error) {
	k, err := crypto.LoadPrivateKey(path)
	if err != nil {
		return crypto.PrivateKey{}, fmt.Errorf("reading key: %w", err)
	}
	return k, nil
}

// senderIdentity returns the key a sender proves to receivers: --key if
// given, otherwise the persistent default key, created on first use. A
// stable key is what lets a receiver's --allow list name this sender and
// lets it resume this sender's partial files.
func senderIdentity(env Env, keyFlag string) (key crypto.PrivateKey, created string, err error) {
	if keyFlag != "" {
		k, err := loadKey(keyFlag)
		return k, "", err
	}
	path, err := env.defaultKeyPath()
	if err != nil {
		return crypto.PrivateKey{}, "", err
	}
	k, err := crypto.LoadPrivateKey(path)
	if err == nil {
		return k, "", nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return crypto.PrivateKey{}, "", fmt.Errorf("reading key: %w", err)
	}
	k, err = writeNewKey(path)
	if err != nil {
		return crypto.PrivateKey{}, "", err
	}
	return k, path, nil
}

// writeNewKey generates a key and writes it to path (mode 0600, refusing to
// overwrite) and its public half to path.pub, creating the directory 0700.
func writeNewKey(path string) (crypto.PrivateKey, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return crypto.PrivateKey{}, fmt.Errorf("creating key directory: %w", err)
	}
	k, err := crypto.GenerateKey()
	if err != nil {
		return crypto.PrivateKey{}, err
	}
	// O_EXCL: never clobber a key that appeared meanwhile, or one the user
	// pointed -o at by mistake.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return crypto.PrivateKey{}, fmt.Errorf("%s already exists; remove it first or choose another file with -o", path)
		}
		return crypto.PrivateKey{}, fmt.Errorf("writing key: %w", err)
	}
	f.Close()
	if err := crypto.SavePrivateKey(path, k); err != nil {
		os.Remove(path)
		return crypto.PrivateKey{}, err
	}
	if err := os.WriteFile(path+".pub", []byte(k.Public().String()+"\n"), 0o644); err != nil {
		return crypto.PrivateKey{}, fmt.Errorf("writing public key: %w", err)
	}
	return k, nil
}
