package transport

import "testing"

// TestSentFramesKeepReusesSpares: a record of more than three frames kept
// for the history takes its overflow slice from the spares that released
// records gave back, so a steady flow of such packets does not allocate,
// and the kept copy holds the frames in order, independent of the builder.
func TestSentFramesKeepReusesSpares(t *testing.T) {
	var spares frameSpares
	var rec sentFrames
	build := func(base int64) {
		rec.reset()
		for i := range int64(5) {
			rec.add(sentFrame{kind: sentStream, id: 4, offset: base + i})
		}
	}
	check := func(kept *sentFrames, base int64) {
		t.Helper()
		if kept.len() != 5 {
			t.Fatalf("kept %d records, want 5", kept.len())
		}
		for i := range 5 {
			if got := kept.at(i).offset; got != base+int64(i) {
				t.Fatalf("record %d has offset %d, want %d", i, got, base+int64(i))
			}
		}
	}
	build(0)
	kept := rec.keep(&spares)
	build(100) // the builder's reuse must not show in the kept copy
	check(&kept, 0)
	spares.release(&kept)
	if kept.len() != 0 || kept.more != nil {
		t.Fatalf("released record still holds %d records", kept.len())
	}
	allocs := testing.AllocsPerRun(100, func() {
		build(200)
		k := rec.keep(&spares)
		check(&k, 200)
		spares.release(&k)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per kept and released record, want 0", allocs)
	}
	for range 2 * maxFrameSpares {
		spares.release(&sentFrames{more: make([]sentFrame, 0, 4)})
	}
	if len(spares) != maxFrameSpares {
		t.Errorf("%d spares held, want the cap %d", len(spares), maxFrameSpares)
	}
}
