// Package chaos is Atoll's deterministic simulator: N replicas of the federation state on
// an in-memory network that partitions, isolates, drops, duplicates, reorders and delays
// messages, with replicas that crash and restart from their bbolt store, and Byzantine
// replicas that forge, overreach, equivocate, replay and flood.
//
// Everything random comes from one rand.Rand seeded by Config.Seed, and time is a tick
// counter, so a seed replays exactly: a failing run prints its seed and
// `atoll sim --seed-start S --seeds 1` runs it again.
//
// Every node runs the site's own replication core (site/core), driven as package site
// drives it (core.go): writes, pushes, relays, sync and soft sessions, soft records and
// peers' budgets go through
// it, each Ready is persisted to the node's store before what it says is sent, and the
// cores' anti-entropy starts the sessions it finds due from the hints (change count and
// heads) nodes send each other over the same lossy network, as sites do on their push
// streams; a core keeps a hint from a node it does not count live yet. A tick is 100 ms
// of the cores' time. Byzantine nodes run a core too,
// and attack beside it with changes they sign themselves.
//
// Soft state (crdt/soft.go) travels beside the changes: each correct site first
// describes its clusters (labels and zone as a change, health and capacity as a soft
// record), then writes its clusters' health and its workloads' status as soft records,
// pushed by the core to every peer (sites do not relay them) and repaired by soft
// sessions over the same lossy links. Byzantine sites equivocate with soft records, replay
// them, sign other sites' objects and sign with keys rotated out or admitted by a rogue
// charter change, send malformed records and session frames, and report statuses in a
// cluster they describe only in the DAG and then remove.
//
// A run has three phases:
//
//  1. chaos: writes at correct sites, pushed at once to every peer (relays forward what is
//     new to them to a few), soft records pushed to every peer, anti-entropy sessions the
//     cores find due, soft sessions, faults and attacks;
//  2. heal: partitions end, crashed replicas restart, the network stops losing messages,
//     Byzantine replicas stop writing valid changes and soft records (their junk and
//     replays continue);
//  3. quiescence: rounds in which every correct replica runs one anti-entropy session
//     and one soft session with random peers, until all correct replicas agree.
//
// The checker then requires: the same digest and heads on every correct replica; every
// change that any correct replica stored present on all of them; no invalid change in any
// correct store (a fresh replica re-validates one store from scratch, signatures included);
// every sealed body held by every replica inside its bound and by none outside; the same
// soft digest everywhere, and, object by object, the soft record an independent oracle
// picks from every record a correct replica accepted (soft_check.go).
//
// site/store has no soft bucket in this tree: a node's soft rows (TakeSoft) are kept in
// memory beside its store, out of a crash's reach, and restored (RestoreSoft) after its
// changes when it restarts.
//
// # Failover
//
// RunFailover simulates the scheduler, not the CRDT: sites in four jurisdictions with two
// clusters each, running a mix of placement policies (equal and static weights, bounds,
// takeover off, maxSurge "1" and "50%", spread, fallback affinities, Duplicated). Each
// site keeps its own copy of the shared facts it places from (every site's record of its
// clusters' health and of each workload's desired and ready replicas in them). A record
// reaches connected sites 1 to MaxDelay ticks after it is written, and anti-entropy with
// a random connected peer repairs what partitions and crashes lost; the real CRDT and its
// convergence are Run's business, not this one's. A site declares a peer dead after
// Detect ticks without contact and alive again after Rejoin ticks of contact.
//
// Each tick every live site builds a scheduler.State from its copy and its own view of
// liveness, runs scheduler.Divide and scheduler.Local for its own share, sets its
// clusters' desired counts and publishes its record. Clusters create pods that are ready
// Ready ticks later and delete surplus pods at once; a dead site's clusters keep running
// what they had, a failed cluster loses its pods.
//
// After a warm-up, a chaos phase partitions the network into two or three groups,
// isolates, kills and restarts sites, and fails and recovers clusters; then everything
// heals and the run continues until nothing has changed for Quiet ticks. The checker
// requires: no cluster outside a workload's bound ever desires or runs a replica of it;
// once quiescent, each Divided workload runs exactly its replicas and each Duplicated one
// runs them in every cluster it should, all ready; after the heal, no workload's ready
// replicas drop below what it had at the heal (or wants, if less): make-before-break.
// It also times takeovers of sites that die or are isolated while all is calm: until a
// survivor declares the site dead, until a survivor's share grows, and until the
// survivors' ready replicas cover the lost share within maxSurge.
package chaos
