//go:build race

package intake

// raceEnabled: the race detector's shadow memory would be measured too.
const raceEnabled = true
