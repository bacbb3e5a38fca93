module atoll/bench/automerge

go 1.26

require atoll v0.0.0

require github.com/automerge/automerge-go v0.0.0-20230903201930-b80ce8aadbb9

replace atoll => ../..
