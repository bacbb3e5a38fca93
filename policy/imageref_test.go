package policy

import (
	"strings"
	"testing"
)

const sha = "sha256:50d858e0985ecc7f60418aaf0cc5ab587f42c2570a884095a9e8ccacd0f6545c"

func TestParseImage(t *testing.T) {
	for _, tc := range []struct {
		image                   string
		host, repo, tag, digest string
	}{
		{"pause", "", "pause", "", ""},
		{"subpath/imagename:v1.0.0", "", "subpath/imagename", "v1.0.0", ""},
		{"fictional.registry.example/imagename:v1.0.0", "fictional.registry.example", "imagename", "v1.0.0", ""},
		{"fictional.registry.example:10443/subpath/imagename:v1.0.0", "fictional.registry.example:10443", "subpath/imagename", "v1.0.0", ""},
		{"fictional.registry.example:10443/subpath/imagename@" + sha, "fictional.registry.example:10443", "subpath/imagename", "", sha},
		{"10.10.10.10:10443/subpath/imagename", "10.10.10.10:10443", "subpath/imagename", "", ""},
		{"localhost/app", "localhost", "app", "", ""},
		{"[::1]:5000/app:1", "[::1]:5000", "app", "1", ""},
		{"library/nginx:1.25@" + sha, "", "library/nginx", "1.25", sha},
		// A first component with a '.' is the host, as Karmada splits it.
		{"a__b.c-d---e/f_g", "a__b.c-d---e", "f_g", "", ""},
	} {
		r, err := parseImage(tc.image)
		if err != nil {
			t.Errorf("%s: %v", tc.image, err)
			continue
		}
		if r.host != tc.host || r.repo != tc.repo || r.tag != tc.tag || r.digest != tc.digest {
			t.Errorf("%s: got %+v", tc.image, r)
		}
		if r.String() != tc.image {
			t.Errorf("%s: String() = %s", tc.image, r)
		}
	}
	for _, tc := range []struct{ image, want string }{
		{"", "empty image reference"},
		{"Nginx", "repository name must be lowercase"},
		{"nginx:", "invalid format"},
		{"nginx@sha256:abc", "invalid format"},
		{"nginx@md5:" + strings.Repeat("a", 32), "unsupported algorithm"},
		{"nginx@sha256:" + strings.Repeat("A", 64), "want 64 lowercase hex digits"},
		{"nginx@sha256:" + strings.Repeat("a", 63) + "0a", "want 64 lowercase hex digits"},
		{"-nginx", "invalid format"},
		{strings.Repeat("a", 256), "longer than 255"},
	} {
		if _, err := parseImage(tc.image); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.image, err, tc.want)
		}
	}
}

func TestOverrideImage(t *testing.T) {
	for _, tc := range []struct {
		image, component, op, value, want string
	}{
		// Karmada's documented cases.
		{"myapp:1.0.0", Registry, OpAdd, "test-repo", "test-repo/myapp:1.0.0"},
		{"myapp:1.0.0", Repository, OpReplace, "myapp2", "myapp2:1.0.0"},
		{"myapp:1.0.0", Tag, OpRemove, "", "myapp"},
		{"imagename:v1.0.0", Registry, OpReplace, "fictional.registry.example", "fictional.registry.example/imagename:v1.0.0"},
		{"gcr.io/imagename:v1.0.0", Registry, OpRemove, "", "imagename:v1.0.0"},
		{"gcr.io/kube-apiserver:v1.19.0", Repository, OpReplace, "kube-controller-manager", "gcr.io/kube-controller-manager:v1.19.0"},
		{"gcr.io/kube-apiserver", Tag, OpReplace, "v1.19.0", "gcr.io/kube-apiserver:v1.19.0"},
		{"gcr.io/kube-apiserver:v1", Tag, OpReplace, sha, "gcr.io/kube-apiserver@" + sha},
		{"gcr.io/kube-apiserver@" + sha, Tag, OpRemove, "", "gcr.io/kube-apiserver"},
		{"gcr.io/kube-apiserver@" + sha, Tag, OpReplace, "v2", "gcr.io/kube-apiserver:v2"},
		// add appends to the component.
		{"registry.k8s.io/pause:3.9", Registry, OpAdd, ".cn", "registry.k8s.io.cn/pause:3.9"},
		{"registry.k8s.io/pause:3.9", Repository, OpAdd, "-debug", "registry.k8s.io/pause-debug:3.9"},
		{"registry.k8s.io/pause:3.9", Tag, OpAdd, "-alpine", "registry.k8s.io/pause:3.9-alpine"},
		{"registry.k8s.io/pause", Tag, OpAdd, "v1", "registry.k8s.io/pause:v1"},
		// No registry to remove: unchanged.
		{"pause:3.9", Registry, OpRemove, "", "pause:3.9"},
		// Atoll keeps a digest beside a tag, where Karmada's parser drops it.
		{"nginx:1.25@" + sha, Registry, OpReplace, "mirror.local", "mirror.local/nginx:1.25@" + sha},
		{"nginx:1.25@" + sha, Tag, OpRemove, "", "nginx@" + sha},
	} {
		got, err := overrideImage(tc.image, ImageOverrider{Component: tc.component, Operator: tc.op, Value: tc.value})
		if err != nil || got != tc.want {
			t.Errorf("%s %s %q on %s: got %q, %v; want %q", tc.op, tc.component, tc.value, tc.image, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		image, component, op, value, want string
	}{
		{"", Tag, OpReplace, "v1", "empty image reference"},
		{"nginx", Tag, OpAdd, "&", `"&" is neither a tag nor a digest`},
		{"nginx", Registry, OpAdd, "/", "gives an invalid image"},
		{"nginx", "Host", OpAdd, "x", "is not an image override"},
	} {
		if _, err := overrideImage(tc.image, ImageOverrider{Component: tc.component, Operator: tc.op, Value: tc.value}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s %q on %q: got %v, want %q", tc.op, tc.component, tc.value, tc.image, err, tc.want)
		}
	}
}
