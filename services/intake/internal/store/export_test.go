package store

// HoldReceives makes flushers wait until release is closed, so that a test
// can queue files before the first statement.
func (s *Store) HoldReceives(release chan struct{}) { s.recv.hold = release }

// ReceiveBatches is how many group-commit statements the store has sent.
func (s *Store) ReceiveBatches() int64 { return s.recv.batches.Load() }

// QueuedReceives is how many files wait to be stored.
func (s *Store) QueuedReceives() int {
	s.recv.mu.Lock()
	defer s.recv.mu.Unlock()
	n := 0
	for _, q := range s.recv.queues {
		n += len(q)
	}
	return n
}
