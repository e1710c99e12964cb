package streamer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hash-stream/hash-stream-aws/lib/budget"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"golang.org/x/sync/errgroup"
)

// Read planner defaults. A response's blocks are located through the index
// before any pack byte is read; neighbouring ranges of one pack are then
// merged into few large ranged reads.
const (
	// DefaultGap is the largest hole between two blocks of a pack that is
	// still read through rather than split into two reads.
	DefaultGap = 256 << 10
	// DefaultMaxRange caps one merged read.
	DefaultMaxRange = 64 << 20
	// DefaultConcurrency is the number of ranged reads in flight.
	DefaultConcurrency = 4
	// DefaultReadAhead is how many bytes one read may hold ahead of the
	// consumer.
	DefaultReadAhead = 4 << 20
	// DefaultLookahead is how many blocks are located (index lookups, run
	// concurrently) ahead of the reads.
	DefaultLookahead = 256
)

// PlannerConfig tunes how a Stream reads.
type PlannerConfig struct {
	Gap         int64
	MaxRange    int64
	Concurrency int
	ReadAhead   int64
	Lookahead   int
}

// DefaultPlannerConfig returns the defaults above.
func DefaultPlannerConfig() PlannerConfig {
	return PlannerConfig{Gap: DefaultGap, MaxRange: DefaultMaxRange, Concurrency: DefaultConcurrency, ReadAhead: DefaultReadAhead, Lookahead: DefaultLookahead}
}

// WithPlanner sets the read planner settings.
func WithPlanner(c PlannerConfig) Option { return func(s *Streamer) { s.plan = c } }

// Stream yields the verified blocks of a list of CIDs, in list order,
// reading ahead with merged ranged reads. Next returns io.EOF at the end;
// Close must be called to release its goroutines.
//
// The blocks read ahead of the consumer are borrowed from the response's
// memory budget. When the response stalls (its client takes nothing of a
// write for the budget's stall time), the stream gives them back: its
// reads stop, the blocks they hold are dropped, and the next call to Next
// reads again from the block it returns (see budget.Account.OnStall).
type Stream struct {
	s          *Streamer
	cids       []cid.Cid
	containing multihash.Multihash
	ctx        context.Context
	cancel     context.CancelCauseFunc
	// acct is the response's share of the memory budget (nil: none).
	acct   *budget.Account
	unhook func() // unsets reclaim as acct's stall hook
	stats  *dag.Stats

	// mu lets Next, Close and reclaim take turns; the fields below are
	// under it.
	mu  sync.Mutex
	run *run // nil after a reclaim, until Next starts the next run
	cur *group
	got int // results received from cur
	err error
	// delivered counts the items Next handed on (blocks and the error):
	// it is the sequence number of the item the consumer takes next.
	delivered int
	closed    bool

	// held is what the blocks handed out and not yet recycled are
	// charged, by CID (see hold). Its own lock: Recycle may run while
	// Next waits.
	heldMu sync.Mutex
	held   map[string][]budget.Charge
}

// run is one pass of planning and reading, from a given item to the end.
// A stream has one run, and a new one after each reclaim.
type run struct {
	cancel context.CancelCauseFunc
	groups chan *group
	wg     sync.WaitGroup
	// planned is set by the planner, before it closes groups, when every
	// block was handed on in a group: only then is the end of groups the
	// end of the stream.
	planned bool
	// order makes the reads of a run take budget in the order the
	// consumer takes their blocks (see fund).
	order fundOrder
}

// fundOrder orders the budget charges of a run's items. Read-ahead
// takes budget in stream order: an item's reader waits its turn (every
// earlier item charged), so budget held ahead of the consumer is the
// window right after it, never blocks of a far group that the consumer
// reaches only after the near ones. A reader that cannot borrow waits
// until budget frees up or until the consumer waits for its very item,
// which then takes its bytes at once: the block a client waits for never
// waits for budget.
type fundOrder struct {
	mu      sync.Mutex
	next    int // the next item to charge
	waiting int // the item the consumer waits for (or has passed)
	turns   map[int]chan struct{}
	urgents map[int]chan struct{}
}

// signal returns a channel closed once cur reaches seq (closed already if
// it has), kept in m until then.
func signal(m *map[int]chan struct{}, cur, seq int) <-chan struct{} {
	ch := make(chan struct{})
	if seq <= cur {
		close(ch)
		return ch
	}
	if *m == nil {
		*m = make(map[int]chan struct{})
	}
	if old, ok := (*m)[seq]; ok {
		return old
	}
	(*m)[seq] = ch
	return ch
}

// release closes the channel of seq in m, if any.
func release(m map[int]chan struct{}, seq int) {
	if ch, ok := m[seq]; ok {
		close(ch)
		delete(m, seq)
	}
}

// turn returns a channel closed when item seq may take budget.
func (o *fundOrder) turn(seq int) <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return signal(&o.turns, o.next, seq)
}

// urgent returns a channel closed once the consumer waits for item seq.
func (o *fundOrder) urgent(seq int) <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return signal(&o.urgents, o.waiting, seq)
}

// charged records that item seq took its budget: the next item's turn.
func (o *fundOrder) charged(seq int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.next = seq + 1
	release(o.turns, o.next)
}

// wait records that the consumer waits for item seq.
func (o *fundOrder) wait(seq int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.waiting = seq
	release(o.urgents, seq)
}

// group is one ranged read of consecutive blocks of one pack (or one
// inline block), with its results in order.
type group struct {
	pack    store.Location
	start   int64
	end     int64
	items   []item
	results chan result
}

type item struct {
	seq    int // index in the stream's list
	cid    cid.Cid
	loc    store.BlobLocation
	inline []byte // data of an identity CID, when isInline
	err    error  // locating failed

	isInline bool
}

type result struct {
	block  dag.Block
	charge budget.Charge // what block.Data is charged to the response's budget
	err    error
}

// Stream starts reading the blocks cids (found through containing's
// records when not nil) and returns at once, as a *Stream. stats may be
// nil.
func (s *Streamer) Stream(ctx context.Context, cids []cid.Cid, containing multihash.Multihash, stats *dag.Stats) dag.Stream {
	if stats == nil {
		stats = new(dag.Stats)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	st := &Stream{s: s, cids: cids, containing: containing, ctx: ctx, cancel: cancel,
		acct: budget.FromContext(ctx), stats: stats}
	st.unhook = st.acct.OnStall(st.reclaim)
	st.start()
	return st
}

// start begins a run from the next item to deliver (st.mu held, or st not
// yet shared).
func (st *Stream) start() {
	ctx, cancel := context.WithCancelCause(st.ctx)
	r := &run{cancel: cancel, groups: make(chan *group, st.s.plan.Concurrency)}
	r.order.next, r.order.waiting = st.delivered, st.delivered
	st.run = r
	from := st.delivered
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer st.s.recoverInto(ctx, "planner", func(err error) { st.cancel(err) })
		st.s.runPlanner(ctx, st, r, st.cids[from:], from)
	}()
}

// Next returns the next block, io.EOF after the last one, or the error
// that stopped the stream. A stream stopped early by its context (the
// reads and the planner quit without a word once it is done) returns the
// context's error, never io.EOF: a cut stream must not look complete.
func (st *Stream) Next() (dag.Block, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.err != nil {
		return dag.Block{}, st.err
	}
	if st.closed {
		st.err = errStreamClosed
		return dag.Block{}, st.err
	}
	if st.run == nil {
		st.start() // reclaimed while the consumer was away: read again
	}
	r := st.run
	r.order.wait(st.delivered)
	for {
		if st.cur == nil {
			g, ok := <-r.groups
			if !ok {
				if !r.planned {
					return st.stop()
				}
				st.err = io.EOF
				return dag.Block{}, io.EOF
			}
			st.cur, st.got = g, 0
		}
		res, ok := <-st.cur.results
		if !ok {
			if st.got < len(st.cur.items) {
				return st.stop()
			}
			st.cur = nil
			continue
		}
		st.delivered++
		if res.err != nil {
			st.err = res.err
			st.cancel(res.err)
			return dag.Block{}, res.err
		}
		st.got++
		st.stats.Blocks.Add(1)
		// The block is the consumer's now: from read-ahead to what the
		// response needs to progress, charged to its floor.
		st.hold(res.block, st.acct.Settle(res.charge))
		return res.block, nil
	}
}

// stop ends a stream whose blocks stopped coming before the last one.
func (st *Stream) stop() (dag.Block, error) {
	st.err = context.Cause(st.ctx)
	if st.err == nil {
		st.err = errors.New("streamer: stream ended before its last block")
	}
	st.cancel(st.err)
	return dag.Block{}, st.err
}

// Close stops the stream, waits for its reads to end and releases the
// budget of the blocks it read that were never handed on.
func (st *Stream) Close() {
	st.cancel(errStreamClosed)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return
	}
	st.closed = true
	st.unhook()
	st.stopRun(errStreamClosed)
}

// reclaim gives back what the stream read ahead while its response is
// stalled: the run stops, its blocks are dropped, and Next starts a new
// run from the block it returns next. It is the account's stall hook.
func (st *Stream) reclaim() {
	st.mu.Lock()
	defer st.mu.Unlock()
	// The consumer may have resumed (and taken st.mu in Next) since the
	// stall was reported: then the read-ahead is in use again.
	if st.closed || st.err != nil || st.run == nil || !st.acct.Stalled() {
		return
	}
	st.stopRun(errReclaimed)
	// Counted once given back, so a reader of Stats that sees it can rely
	// on the bytes being back in the budget.
	st.stats.Reclaims.Add(1)
}

// stopRun stops the current run, waits for its goroutines and recycles the
// blocks they read (st.mu held).
func (st *Stream) stopRun(cause error) {
	r, cur := st.run, st.cur
	st.run, st.cur, st.got = nil, nil, 0
	if r == nil {
		return
	}
	r.cancel(cause)
	// Drain so no goroutine stays blocked on a send.
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		if cur != nil {
			for res := range cur.results {
				st.recycle(res.block, res.charge)
			}
		}
		for g := range r.groups {
			for res := range g.results {
				st.recycle(res.block, res.charge)
			}
		}
	}()
	r.wg.Wait()
	<-drained
}

var (
	// errStreamClosed is the cause of a stream's context after Close.
	errStreamClosed = errors.New("streamer: stream closed")
	// errReclaimed is the cause of a run's context after a reclaim.
	errReclaimed = errors.New("streamer: read-ahead given back: the response stalled")
)

// runPlanner locates the blocks in batches, groups them into ranged reads and
// starts the reads, in order, at most s.plan.Concurrency at a time. seq is
// the sequence number of cids[0] in the stream.
func (s *Streamer) runPlanner(ctx context.Context, st *Stream, r *run, cids []cid.Cid, seq int) {
	cfg := s.plan
	defer close(r.groups)
	slots := make(chan struct{}, cfg.Concurrency)
	cs := s.containingSet(ctx, st.containing, st.stats) // once for the whole run
	for len(cids) > 0 {
		if ctx.Err() != nil {
			return
		}
		n := min(len(cids), cfg.Lookahead)
		items := s.locateAll(ctx, cids[:n], seq, cs, st.stats)
		cids, seq = cids[n:], seq+n
		for len(items) > 0 {
			g := nextGroup(items, cfg)
			items = items[len(g.items):]
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			// With a free slot and a done context both ready, select
			// picks either: once the consumer is gone, start no read.
			if ctx.Err() != nil {
				<-slots
				return
			}
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				defer func() { <-slots }()
				s.read(ctx, st, r, g)
			}()
			select {
			case r.groups <- g:
			case <-ctx.Done():
				return
			}
			if g.items[len(g.items)-1].err != nil {
				return // the stream ends at the first block that cannot be located
			}
		}
	}
	r.planned = true
}

// locateAll locates cids concurrently.
// seq is the sequence number of cids[0] in the stream.
func (s *Streamer) locateAll(ctx context.Context, cids []cid.Cid, seq int, cs containingSet, stats *dag.Stats) []item {
	items := make([]item, len(cids))
	var eg errgroup.Group
	eg.SetLimit(8)
	for i, c := range cids {
		items[i].seq = seq + i
		items[i].cid = c
		if data, ok, err := dag.Inline(c.Hash()); ok || err != nil {
			items[i].inline, items[i].isInline, items[i].err = data, ok, err
			continue
		}
		if loc, ok := s.locateCached(ctx, c.Hash(), cs); ok {
			items[i].loc, items[i].err = loc, s.checkLocation(c.Hash(), loc)
			continue
		}
		eg.Go(func() error {
			defer s.recoverInto(ctx, "locate", func(err error) { items[i].err = err })
			stats.Lookups.Add(1)
			items[i].loc, items[i].err = s.lookup(ctx, c.Hash(), cs)
			if items[i].err == nil {
				items[i].err = s.checkLocation(c.Hash(), items[i].loc)
			}
			return nil
		})
	}
	eg.Wait()
	return items
}

// nextGroup takes the longest run at the head of items that one ranged
// read covers: blocks of the same pack, each starting at most cfg.Gap
// bytes after the previous one ends (or overlapping it), within
// cfg.MaxRange bytes. An inline or unlocated item is a group of its own.
func nextGroup(items []item, cfg PlannerConfig) *group {
	first := items[0]
	g := &group{items: items[:1]}
	if first.isInline || first.err != nil {
		g.results = make(chan result, 1)
		return g
	}
	g.pack = first.loc.Pack
	g.start = int64(first.loc.Offset)
	g.end = g.start + int64(first.loc.Length)
	for _, it := range items[1:] {
		if it.isInline || it.err != nil || it.loc.Pack.String() != g.pack.String() {
			break
		}
		off, end := int64(it.loc.Offset), int64(it.loc.Offset+it.loc.Length)
		// One forward pass over the range: a block before the end of the
		// previous one (a repeat, or out of pack order) starts a new read.
		if off < g.end || off > g.end+cfg.Gap || end-g.start > cfg.MaxRange {
			break
		}
		g.items = g.items[:len(g.items)+1]
		g.end = end
	}
	// Buffer about ReadAhead bytes of this read's blocks.
	avg := max(1, (g.end-g.start)/int64(len(g.items)))
	g.results = make(chan result, max(1, min(int64(len(g.items)), cfg.ReadAhead/avg)))
	return g
}

// read performs one group's ranged read and sends its verified blocks.
func (s *Streamer) read(ctx context.Context, st *Stream, r *run, g *group) {
	defer close(g.results)
	stats := st.stats
	send := func(res result) bool {
		select {
		case g.results <- res:
			return res.err == nil
		case <-ctx.Done():
			st.recycle(res.block, res.charge)
			return false
		}
	}
	defer s.recoverInto(ctx, "read", func(err error) { send(result{err: err}) })
	first := g.items[0]
	if first.err != nil || first.isInline {
		if _, err := r.fund(ctx, st.acct, first.seq, 0); err != nil {
			return // the stream ended
		}
		if first.err != nil {
			send(result{err: first.err})
		} else {
			send(result{block: dag.Block{CID: first.cid, Data: first.inline}})
		}
		return
	}
	if ctx.Err() != nil {
		return // the stream was closed before this read started
	}
	rc, err := s.packs.GetRange(ctx, g.pack, g.start, g.end-g.start)
	stats.Reads.Add(1)
	if err != nil {
		if ctx.Err() != nil {
			return // closed while the read started: not a storage failure
		}
		s.log.ErrorContext(ctx, "storage read failed", "cid", first.cid.String(), "pack", g.pack.String(), "offset", g.start, "length", g.end-g.start, "err", err)
		send(result{err: fmt.Errorf("read pack %s [%d, %d): %w", g.pack, g.start, g.end, err)})
		return
	}
	defer rc.Close()
	pos := g.start
	for _, it := range g.items {
		off, length := int64(it.loc.Offset), int64(it.loc.Length)
		charge, err := r.fund(ctx, st.acct, it.seq, length)
		if err != nil {
			return // the stream ended while this read waited for budget
		}
		data := getBuffer(int(length))
		blk := dag.Block{CID: it.cid, Data: data}
		if err := readAt(rc, &pos, off, data); err != nil {
			st.recycle(blk, charge)
			if ctx.Err() != nil {
				return // the run ended while reading: not a storage failure
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			s.log.ErrorContext(ctx, "short pack read", "cid", it.cid.String(), "pack", g.pack.String(), "offset", off, "length", length, "err", err)
			send(result{err: fmt.Errorf("read %s from pack %s at %d: %w", it.cid, g.pack, off, err)})
			return
		}
		stats.ReadBytes.Add(length)
		if err := s.verify(it.cid.Hash(), data); err != nil {
			st.recycle(blk, charge)
			s.log.ErrorContext(ctx, "corrupt block", "cid", it.cid.String(), "pack", g.pack.String(), "offset", off, "length", length)
			send(result{err: fmt.Errorf("%w (pack %s, offset %d)", err, g.pack, off)})
			return
		}
		if !send(result{block: blk, charge: charge}) {
			return
		}
	}
}

// readAt fills data with the bytes at offset off (at or after *pos) of a
// sequential reader positioned at *pos, skipping the gap.
func readAt(r io.Reader, pos *int64, off int64, data []byte) error {
	if gap := off - *pos; gap > 0 {
		n, err := io.CopyN(io.Discard, r, gap)
		*pos += n
		if err != nil {
			return err
		}
	}
	n, err := io.ReadFull(r, data)
	*pos += int64(n)
	return err
}

// Blocks of the common UnixFS leaf sizes are read into pooled buffers,
// which Recycle returns: serving a large file then allocates little.
var bufferPools = map[int]*sync.Pool{
	256 << 10: {New: func() any { b := make([]byte, 256<<10); return &b }},
	1 << 20:   {New: func() any { b := make([]byte, 1<<20); return &b }},
}

func getBuffer(n int) []byte {
	for size, p := range bufferPools {
		if n <= size && n > size/2 {
			return (*p.Get().(*[]byte))[:n]
		}
	}
	return make([]byte, n)
}

// Recycle hands back a block the caller is done with (written out, links
// decoded): its buffer is reused and its bytes go back to the response's
// memory budget. The caller must not use b.Data afterwards.
func (st *Stream) Recycle(b dag.Block) {
	st.recycle(b, st.unhold(b))
}

// recycle releases charge and keeps b's buffer for reuse.
func (st *Stream) recycle(b dag.Block, charge budget.Charge) {
	st.acct.Release(charge)
	if b.Data == nil {
		return
	}
	if p, ok := bufferPools[cap(b.Data)]; ok {
		data := b.Data[:cap(b.Data)]
		p.Put(&data)
	}
}

// hold records what a block handed to the consumer is charged, for
// Recycle. dag.Block carries no charge (it is the Source's type, not the
// budget's), so the stream keeps them by CID. Two copies of one CID are
// charged the same bytes, perhaps split differently between floor and
// borrowed: whichever goes back first, the account is the same once both
// have.
func (st *Stream) hold(b dag.Block, charge budget.Charge) {
	if charge == (budget.Charge{}) {
		return
	}
	st.heldMu.Lock()
	defer st.heldMu.Unlock()
	if st.held == nil {
		st.held = make(map[string][]budget.Charge)
	}
	k := b.CID.KeyString()
	st.held[k] = append(st.held[k], charge)
}

// unhold returns and forgets the charge of a block handed out by Next.
func (st *Stream) unhold(b dag.Block) budget.Charge {
	st.heldMu.Lock()
	defer st.heldMu.Unlock()
	k := b.CID.KeyString()
	cs := st.held[k]
	if len(cs) == 0 {
		return budget.Charge{}
	}
	c := cs[len(cs)-1]
	if len(cs) == 1 {
		delete(st.held, k)
	} else {
		st.held[k] = cs[:len(cs)-1]
	}
	return c
}

// fund charges length bytes for item seq to the response's budget acct,
// in stream order (see fundOrder): as read-ahead, borrowed when the budget
// has room, or taken at once when the consumer waits for this very item.
// An item that needs no bytes (inline, or failed to locate) is funded with
// length 0 to pass the turn on. It fails only when the run ends.
func (r *run) fund(ctx context.Context, acct *budget.Account, seq int, length int64) (budget.Charge, error) {
	if acct == nil {
		return budget.Charge{}, nil
	}
	select {
	case <-r.order.turn(seq):
	case <-ctx.Done():
		return budget.Charge{}, context.Cause(ctx)
	}
	var c budget.Charge
	if length > 0 {
		var ok bool
		if c, ok = acct.TryBorrow(length); !ok {
			var err error
			if c, err = acct.Borrow(ctx, length, r.order.urgent(seq)); err != nil {
				return c, err
			}
		}
	}
	r.order.charged(seq)
	return c, nil
}
