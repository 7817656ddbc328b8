package replay

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

type rec struct {
	src    Source
	offset int64
	at     time.Time
}

// feed pushes each source's records into m in chunks of random sizes,
// taking what m can release between chunks, and returns what it released.
func feed(t *testing.T, rng *rand.Rand, m *Merge[rec], bySource map[Source][]rec) []rec {
	t.Helper()
	var out []rec
	pos := map[Source]int{}
	for {
		for {
			v, ok, done := m.Next()
			if done {
				return out
			}
			if !ok {
				break
			}
			out = append(out, v)
		}
		starved := m.Starved()
		if len(starved) == 0 {
			t.Fatal("Next released nothing while no source was starved")
		}
		for _, s := range starved {
			n := 1 + rng.IntN(4)
			recs := bySource[s]
			for _, r := range recs[pos[s]:min(pos[s]+n, len(recs))] {
				m.Push(s, r.at, r.offset, r)
			}
			pos[s] = min(pos[s]+n, len(recs))
			if pos[s] == len(recs) {
				m.End(s)
			}
		}
	}
}

func TestMergeReleasesByTimeThenRank(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_000)
	ms := func(n int) time.Time { return base.Add(time.Duration(n) * time.Millisecond) }
	q, a := Source{Input: 0, Partition: 1}, Source{Input: 1, Partition: 0}
	bySource := map[Source][]rec{
		// A question and its answer in the same millisecond: the
		// question's input ranks first.
		q: {{q, 0, ms(0)}, {q, 1, ms(5)}, {q, 2, ms(9)}},
		a: {{a, 0, ms(5)}, {a, 1, ms(6)}},
	}
	m := NewMerge[rec]([]Source{q, a})
	got := feed(t, rand.New(rand.NewPCG(1, 2)), m, bySource)
	want := []rec{bySource[q][0], bySource[q][1], bySource[a][0], bySource[a][1], bySource[q][2]}
	if !slices.Equal(got, want) {
		t.Fatalf("released %v, want %v", got, want)
	}
}

// TestMergeProperties: whatever the chunks, every record is released once,
// each source in its own order, and when every source's times rise, all
// of them in the order of time, rank, partition and offset.
func TestMergeProperties(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		base := time.UnixMilli(1_700_000_000_000)
		rising := seed%2 == 0
		var sources []Source
		bySource := map[Source][]rec{}
		var all []rec
		for in := range 1 + rng.IntN(4) {
			for p := range int32(1 + rng.IntN(3)) {
				s := Source{Input: in, Partition: p}
				sources = append(sources, s)
				at := base
				for o := range int64(rng.IntN(12)) {
					if rising || rng.IntN(3) > 0 {
						at = at.Add(time.Duration(rng.IntN(3)) * time.Millisecond)
					} else {
						at = at.Add(-time.Duration(rng.IntN(3)) * time.Millisecond)
					}
					r := rec{s, o, at}
					bySource[s] = append(bySource[s], r)
					all = append(all, r)
				}
			}
		}
		m := NewMerge[rec](sources)
		got := feed(t, rng, m, bySource)
		if len(got) != len(all) {
			t.Fatalf("seed %d: released %d of %d records", seed, len(got), len(all))
		}
		for _, s := range sources {
			var mine []rec
			for _, r := range got {
				if r.src == s {
					mine = append(mine, r)
				}
			}
			if !slices.Equal(mine, bySource[s]) {
				t.Fatalf("seed %d: source %v released as %v, want %v", seed, s, mine, bySource[s])
			}
		}
		if !rising {
			continue
		}
		want := slices.Clone(all)
		slices.SortFunc(want, func(a, b rec) int {
			if c := a.at.Compare(b.at); c != 0 {
				return c
			}
			if a.src.Input != b.src.Input {
				return a.src.Input - b.src.Input
			}
			if a.src.Partition != b.src.Partition {
				return int(a.src.Partition - b.src.Partition)
			}
			return int(a.offset - b.offset)
		})
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d: released %v, want %v", seed, got, want)
		}
	}
}
