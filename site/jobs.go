package site

import "atoll/site/kube"

// JobCounts are a Job's counts, in one cluster as its site reports them, or summed over
// the clusters that run it, with Karmada's aggregation: Complete once every cluster's
// Job completed, Failed once one failed. Sites report them from format level
// crdt.FormatJobs; a Job's ready count (kube.JobReady) is in its Status either way.
type JobCounts struct {
	Active    int `json:"active"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	// Finished is "Complete" or "Failed" once the Job (every cluster's, summed) finished;
	// "" while it runs.
	Finished string `json:"finished,omitempty"`
}

// Job finished states.
const (
	JobComplete = "Complete"
	JobFailed   = "Failed"
)

// readJobCounts builds one cluster's counts from its Status fields.
func readJobCounts(conditions string, active, succeeded, failed int) JobCounts {
	j := JobCounts{Active: active, Succeeded: succeeded, Failed: failed}
	switch {
	case kube.HasCondition(conditions, "Failed"):
		j.Finished = JobFailed
	case kube.HasCondition(conditions, "Complete"):
		j.Finished = JobComplete
	}
	return j
}

// sumJobs sums the counts of the clusters that report them (by "<site>/<cluster>"):
// Failed if one failed, Complete if all completed; nil if none reports counts.
func sumJobs(byCluster map[string]JobCounts) *JobCounts {
	if len(byCluster) == 0 {
		return nil
	}
	var out JobCounts
	complete := 0
	for _, j := range byCluster {
		out.Active += j.Active
		out.Succeeded += j.Succeeded
		out.Failed += j.Failed
		switch j.Finished {
		case JobFailed:
			out.Finished = JobFailed
		case JobComplete:
			complete++
		}
	}
	if out.Finished == "" && complete == len(byCluster) {
		out.Finished = JobComplete
	}
	return &out
}

// jobAt returns one cluster's counts, or nil.
func jobAt(byCluster map[string]JobCounts, where string) *JobCounts {
	if j, ok := byCluster[where]; ok {
		return &j
	}
	return nil
}
