package instance

// LookupRead is, for every processor that looks table up (goka.Lookup),
// how far its copy of each of the table's partitions has read: the offset
// after the last record read, or 0 before any. A test that changes a table
// waits on it before it sends what a processor will look the change up
// for; live, a lookup follows its table a moment behind.
func (i *Instance) LookupRead(table string) map[string]map[int32]int64 {
	out := map[string]map[int32]int64{}
	for name, p := range i.processors() {
		stats := p.Stats().Lookup[table]
		if stats == nil {
			continue
		}
		read := map[int32]int64{}
		for part, ts := range stats.Partitions {
			if ts != nil && ts.Input.Count > 0 {
				read[part] = ts.Input.LastOffset + 1
			}
		}
		out[name] = read
	}
	return out
}
