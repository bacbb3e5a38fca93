package policy

import (
	"fmt"
	"regexp"
	"strings"
)

// The grammar of image references, as github.com/distribution/reference (v0.6.0) states
// it and Karmada's imageparser uses it:
//
//	reference  := name [ ":" tag ] [ "@" digest ]
//	name       := [ domain "/" ] remote-name
//	domain     := host [ ":" port ]
//	remote-name:= path-component [ "/" path-component ]*
var (
	alnum         = `[a-z0-9]+`
	pathComponent = alnum + `(?:(?:[._]|__|[-]+)` + alnum + `)*`
	remoteName    = pathComponent + `(?:/` + pathComponent + `)*`
	domainLabel   = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	domainAndPort = `(?:` + domainLabel + `(?:\.` + domainLabel + `)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?`
	tagPattern    = `[\w][\w.-]{0,127}`
	digestPattern = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[[:xdigit:]]{32,}`

	referenceRe  = regexp.MustCompile(`^((?:` + domainAndPort + `/)?` + remoteName + `)(?::(` + tagPattern + `))?(?:@(` + digestPattern + `))?$`)
	domainRe     = regexp.MustCompile(`^` + domainAndPort + `$`)
	remoteNameRe = regexp.MustCompile(`^` + remoteName + `$`)
	tagRe        = regexp.MustCompile(`^` + tagPattern + `$`)
	digestRe     = regexp.MustCompile(`^` + digestPattern + `$`)
	tagCharsRe   = regexp.MustCompile(`^[\w.-]+$`)
)

// digestHexLen is the hex length of each digest algorithm the reference parser accepts.
var digestHexLen = map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}

// maxRepositoryLen is the longest repository name the reference parser accepts.
const maxRepositoryLen = 255

// imageRef is an image reference split as Karmada's imageparser splits it.
type imageRef struct {
	host   string // "registry.k8s.io", "localhost:5000"; "" for Docker Hub's default
	repo   string // "kube-apiserver", "library/nginx"
	tag    string
	digest string
}

// parseImage splits an image reference. The host is the first path component if it has
// a '.' or a ':' or is "localhost", as Karmada decides.
func parseImage(s string) (imageRef, error) {
	m := referenceRe.FindStringSubmatch(s)
	if m == nil {
		if s == "" {
			return imageRef{}, fmt.Errorf("empty image reference")
		}
		if referenceRe.MatchString(strings.ToLower(s)) {
			return imageRef{}, fmt.Errorf("image reference %q: repository name must be lowercase", s)
		}
		return imageRef{}, fmt.Errorf("image reference %q: invalid format", s)
	}
	r := imageRef{repo: m[1], tag: m[2], digest: m[3]}
	if i := strings.IndexByte(r.repo, '/'); i >= 0 && (strings.ContainsAny(r.repo[:i], ".:") || r.repo[:i] == "localhost") {
		r.host, r.repo = r.repo[:i], r.repo[i+1:]
	}
	if len(r.repo) > maxRepositoryLen {
		return imageRef{}, fmt.Errorf("image reference %q: repository name longer than %d characters", s, maxRepositoryLen)
	}
	if r.digest != "" {
		if err := checkDigest(r.digest); err != nil {
			return imageRef{}, fmt.Errorf("image reference %q: %w", s, err)
		}
	}
	return r, nil
}

func checkDigest(d string) error {
	alg, hex, _ := strings.Cut(d, ":")
	n, ok := digestHexLen[alg]
	if !ok {
		return fmt.Errorf("digest %q: unsupported algorithm (want sha256, sha384 or sha512)", d)
	}
	if len(hex) != n || strings.Trim(hex, "0123456789abcdef") != "" {
		return fmt.Errorf("digest %q: want %d lowercase hex digits", d, n)
	}
	return nil
}

// String joins the reference again: [host/]repo[:tag][@digest].
func (r imageRef) String() string {
	s := r.repo
	if r.host != "" {
		s = r.host + "/" + s
	}
	if r.tag != "" {
		s += ":" + r.tag
	}
	if r.digest != "" {
		s += "@" + r.digest
	}
	return s
}

// tagOrDigest is the tag if there is one, else the digest.
func (r imageRef) tagOrDigest() string {
	if r.tag != "" {
		return r.tag
	}
	return r.digest
}

// setTagOrDigest sets a tag (dropping the digest) or a digest (dropping the tag).
func (r *imageRef) setTagOrDigest(v string) error {
	switch {
	case tagRe.MatchString(v):
		r.tag, r.digest = v, ""
	case digestRe.MatchString(v):
		r.tag, r.digest = "", v
	default:
		return fmt.Errorf("%q is neither a tag nor a digest", v)
	}
	return nil
}

// removeTagOrDigest removes the tag if there is one, else the digest.
func (r *imageRef) removeTagOrDigest() {
	if r.tag != "" {
		r.tag = ""
	} else {
		r.digest = ""
	}
}

// overrideImage applies one ImageOverrider to an image, as Karmada's overrideImage
// does, and checks that the result is a valid reference.
func overrideImage(image string, o ImageOverrider) (string, error) {
	r, err := parseImage(image)
	if err != nil {
		return "", err
	}
	switch o.Component + "/" + o.Operator {
	case Registry + "/" + OpAdd:
		r.host += o.Value
	case Registry + "/" + OpReplace:
		r.host = o.Value
	case Registry + "/" + OpRemove:
		r.host = ""
	case Repository + "/" + OpAdd:
		r.repo += o.Value
	case Repository + "/" + OpReplace:
		r.repo = o.Value
	case Tag + "/" + OpAdd:
		err = r.setTagOrDigest(r.tagOrDigest() + o.Value)
	case Tag + "/" + OpReplace:
		err = r.setTagOrDigest(o.Value)
	case Tag + "/" + OpRemove:
		r.removeTagOrDigest()
	default:
		return "", fmt.Errorf("%s %s is not an image override", o.Operator, o.Component)
	}
	if err != nil {
		return "", err
	}
	out := r.String()
	if _, err := parseImage(out); err != nil {
		return "", fmt.Errorf("%s %s %q on %q gives an invalid image: %w", o.Operator, o.Component, o.Value, image, err)
	}
	return out, nil
}
