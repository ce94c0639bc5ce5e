package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// findGitDir returns the git directory of dir itself (never of a parent),
// and whether it is a bare repository.
func findGitDir(dir string) (gitDir string, bare bool) {
	if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
		return filepath.Join(dir, ".git"), false
	}
	head, errH := os.Stat(filepath.Join(dir, "HEAD"))
	objs, errO := os.Stat(filepath.Join(dir, "objects"))
	if errH == nil && errO == nil && !head.IsDir() && objs.IsDir() {
		return dir, true
	}
	return "", false
}

// git runs git on gitDir (never a repository found by searching upwards).
func git(ctx context.Context, gitDir string, args ...string) ([]byte, []byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"--git-dir=" + gitDir}, args...)...)
	env := os.Environ()[:0:0]
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "GIT_TERMINAL_PROMPT=0", "GIT_NO_REPLACE_OBJECTS=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return stdout.Bytes(), stderr.Bytes(), err
}

// gitError wraps a failed git command with its first line of stderr.
func gitError(gitDir string, args []string, stderr []byte, err error) error {
	msg := strings.TrimSpace(string(stderr))
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if msg == "" {
		return fmt.Errorf("source: git %s in %s: %w", strings.Join(args, " "), gitDir, err)
	}
	return fmt.Errorf("source: git %s in %s: %s: %w", strings.Join(args, " "), gitDir, msg, err)
}

// gitHasCommit reports whether rev names a commit in gitDir.
func gitHasCommit(ctx context.Context, gitDir, rev string) (bool, error) {
	args := []string{"rev-parse", "--verify", "--quiet", "--end-of-options", rev + "^{commit}"}
	_, stderr, err := git(ctx, gitDir, args...)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &exit) && len(bytes.TrimSpace(stderr)) == 0:
		return false, nil
	}
	return false, gitError(gitDir, args, stderr, err)
}

// gitHasTree reports whether obj (rev:path) is a tree in gitDir.
func gitHasTree(ctx context.Context, gitDir, obj string) (bool, error) {
	args := []string{"cat-file", "-t", obj}
	out, _, err := git(ctx, gitDir, args...)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, nil
	}
	return strings.TrimSpace(string(out)) == "tree", nil
}

// gitBlob returns the content of obj (rev:path); an error matching
// fs.ErrNotExist when there is no such blob.
func gitBlob(ctx context.Context, gitDir, obj string) ([]byte, error) {
	if ok, err := gitIsBlob(ctx, gitDir, obj); err != nil {
		return nil, err
	} else if !ok {
		return nil, fs.ErrNotExist
	}
	args := []string{"cat-file", "blob", obj}
	out, stderr, err := git(ctx, gitDir, args...)
	if err != nil {
		return nil, gitError(gitDir, args, stderr, err)
	}
	return out, nil
}

func gitIsBlob(ctx context.Context, gitDir, obj string) (bool, error) {
	out, _, err := git(ctx, gitDir, "cat-file", "-t", obj)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, nil
	}
	return strings.TrimSpace(string(out)) == "blob", nil
}
