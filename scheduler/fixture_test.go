package scheduler

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fed builds a state from a compact description: "a:EU:2 b:EU:1 c:US:2" is site a in
// jurisdiction EU with clusters c1 and c2, and so on. Every site is alive and every
// cluster healthy with room for 100 pods.
func fed(desc string) *State {
	st := &State{}
	for _, f := range strings.Fields(desc) {
		parts := strings.Split(f, ":")
		var n int
		fmt.Sscan(parts[2], &n)
		st.Sites = append(st.Sites, Site{Name: parts[0], Jurisdiction: parts[1], Region: "r-" + parts[0], Alive: true})
		for i := 1; i <= n; i++ {
			st.Clusters = append(st.Clusters, Cluster{
				Site: parts[0], Name: fmt.Sprintf("c%d", i), Jurisdiction: parts[1], Region: "r-" + parts[0],
				Healthy: true, Labels: map[string]string{"tier": fmt.Sprint(i)}, Available: Resources{"pods": 100, "cpu": 8000},
			})
		}
	}
	return st
}

func (st *State) kill(site string) *State {
	for i := range st.Sites {
		if st.Sites[i].Name == site {
			st.Sites[i].Alive = false
		}
	}
	return st
}

func (st *State) cluster(site, name string) *Cluster {
	for i := range st.Clusters {
		if st.Clusters[i].Site == site && st.Clusters[i].Name == name {
			return &st.Clusters[i]
		}
	}
	panic("no cluster " + site + "/" + name)
}

// place runs both levels for every site and renders "a/c1=2 a/c2=1 b/c1=2".
func place(w *Workload, st *State) string {
	var parts []string
	for _, s := range Divide(w, st).Sites {
		if s.Replicas == 0 {
			continue
		}
		for _, c := range Local(w, s, st) {
			if c.Replicas > 0 {
				parts = append(parts, fmt.Sprintf("%s/%s=%d", s.Name, c.Name, c.Replicas))
			}
		}
	}
	return strings.Join(parts, " ")
}

func labelSel(k, v string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{k: v}}
}
