// Package chaos is Atoll's deterministic simulator: N replicas of the federation state on
// an in-memory network that partitions, isolates, drops, duplicates, reorders and delays
// messages, with replicas that crash and restart from their bbolt store, and Byzantine
// replicas that forge, overreach, equivocate, replay and flood.
//
// Everything random comes from one rand.Rand seeded by Config.Seed, and time is a tick
// counter, so a seed replays exactly: a failing run prints its seed and
// `atoll sim --seed-start S --seeds 1` runs it again.
//
// A run has three phases:
//
//  1. chaos: writes at correct sites, eager push of new changes to a few peers (relays
//     forward what is new to them), anti-entropy sessions, faults and attacks;
//  2. heal: partitions end, crashed replicas restart, the network stops losing messages,
//     Byzantine replicas stop writing valid changes (their junk continues);
//  3. quiescence: rounds in which every correct replica runs one anti-entropy session
//     with a random peer, until all correct replicas agree.
//
// The checker then requires: the same digest and heads on every correct replica; every
// change that any correct replica stored present on all of them; no invalid change in any
// correct store (a fresh replica re-validates one store from scratch, signatures included);
// every sealed body held by every replica inside its bound and by none outside.
package chaos
