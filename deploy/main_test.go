package deploy_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// image is the atoll binary built as the Dockerfile builds it, once, for the tests that
// need it (TestStaticBinary, TestChartReplicasRun); TestMain removes it.
var image struct {
	once      sync.Once
	dir, path string
	err       error
}

// imageBinary builds ./cmd/atoll with the Dockerfile's command (buildCmd), once.
func imageBinary(t *testing.T) string {
	t.Helper()
	image.once.Do(func() {
		if image.dir, image.err = os.MkdirTemp("", "atoll-deploy-bin-"); image.err != nil {
			return
		}
		image.path = filepath.Join(image.dir, "atoll")
		cmd := exec.Command("go", "build", "-tags", "release", "-trimpath", "-ldflags", "-s -w", "-o", image.path, "./cmd/atoll")
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			image.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if image.err != nil {
		t.Fatal(image.err)
	}
	return image.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if image.dir != "" {
		os.RemoveAll(image.dir)
	}
	os.Exit(code)
}
