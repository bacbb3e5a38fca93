package site

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"atoll/crdt"
)

// A site publishes its release in its own site object's "version" field, a field every
// release knows: "<version> format=<level>", the level being the highest its release
// implements (crdt.MaxFormat). `atoll charter propose --format N` reads it from every
// site of the charter and refuses a level one of them does not implement
// (docs/adr/0013-format-levels.md, decision 1).

// ReleaseValue is the value a site publishes for a version and format level.
func ReleaseValue(version string, format int) string {
	return version + " format=" + strconv.Itoa(format)
}

// ParseRelease reads a published release; format is 0 if the value names none (a
// release before levels publishes nothing).
func ParseRelease(v string) (version string, format int) {
	i := strings.LastIndex(v, " format=")
	if i < 0 {
		return v, 0
	}
	n, err := strconv.Atoi(v[i+len(" format="):])
	if err != nil || n < 1 {
		return v, 0
	}
	return v[:i], n
}

// publishRelease writes this site's release into its site object if it is not there
// yet: once per upgrade, not per start.
func (s *Site) publishRelease() {
	want := ReleaseValue(s.version, crdt.MaxFormat)
	s.mu.Lock()
	_, inCharter := s.rep.Charter().SiteByName(s.cfg.Name)
	v, ok := s.rep.Get(crdt.KindSite, s.cfg.Name, "version")
	s.mu.Unlock()
	if !inCharter || s.removed() || ok && string(v.Bytes) == want {
		return
	}
	op := crdt.Op{Type: crdt.OpSet, Kind: crdt.KindSite, Key: s.cfg.Name, Field: "version", Value: []byte(want)}
	if _, _, err := s.record([]crdt.Op{op}); err != nil {
		s.log.Warn("release not published", "err", err)
	}
}

// CheckLevel refuses a format level that some site does not implement, by what each
// published (sites maps a site's name to its site object's "version" value, "" if none).
func CheckLevel(level int, sites map[string]string) error {
	var behind []string
	for _, name := range slices.Sorted(maps.Keys(sites)) {
		v, f := ParseRelease(sites[name])
		switch {
		case f == 0:
			behind = append(behind, fmt.Sprintf("%s (has published no level)", name))
		case f < level:
			behind = append(behind, fmt.Sprintf("%s (%s implements up to %d)", name, v, f))
		}
	}
	if len(behind) > 0 {
		return fmt.Errorf("format %d: not every site implements it: %s; upgrade them first", level, strings.Join(behind, ", "))
	}
	return nil
}
