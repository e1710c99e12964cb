// Package budget bounds the bytes that responses hold in memory (read-ahead
// and block buffers), process-wide, whatever the number of clients, and
// shares them between clients so that none can lock the others out.
//
// A Budget is one pool of bytes. Each response is admitted with an Account
// that holds a floor: bytes set aside for it alone, enough for the block it
// is about to write. Everything else a response buffers (reading ahead of
// its client) is borrowed from the pool while the pool has room, and waits
// otherwise. A response never waits for the bytes it needs to make progress
// (Take): those come from its floor, from the pool, or, only when a block is
// larger than the floor and the pool is spent, as an overdraft that is
// counted and reported. So no response can starve another into a deadlock.
//
// A client that stops reading holds no more than its floors, and those not
// for long while other clients wait:
//
//   - Read-ahead is lent only to responses that drain. The writer of a
//     response reports each write to its client (Sending, then Sent); a
//     write that has not returned after the stall time (WithStallAfter,
//     DefaultStallAfter) marks the response stalled: it borrows nothing
//     more, and the code holding its read-ahead (OnStall) drops it and gives
//     the bytes back, to read them again if the client resumes. A block
//     handed to the writer moves into the floor (Settle), so a stalled
//     response falls back to its floor.
//   - Admission is fair across clients (Admit with ForClient, e.g. the
//     remote address): while responses wait for a floor, the next floor
//     goes to the client holding the fewest responses, and among equals to
//     the oldest request. Read-ahead yields to a waiting response whose
//     client holds no more responses than the borrower's.
//   - A stalled response is shed when a fairer client waits: if the
//     response next in line does not fit and another client holds at least
//     two responses more than its client, the stalled response of the
//     client holding most (stalled longest among equals) is cut with the
//     function set by OnShed, and its floor goes to the waiting response.
//     One shed is under way at a time. A client holding a single response
//     is never shed, nor is a response whose writes return within the stall
//     time, however slowly it reads.
//   - A client has at most WithMaxPerClient responses in flight (admitted
//     or waiting); Admit refuses one more at once with ErrClientLimit.
//   - Floors together take at most the budget less WithReserve bytes: the
//     reserve is read-ahead for the responses that drain, so a client that
//     is admitted while non-readers hold every floor still streams at speed.
//
// The requests of one client (same ForClient key, or none) are served in
// order and never shed for each other. So a client that never reads holds
// a share of the floors until fairer clients need them or its write
// deadline drops it, and clients that read are admitted and read ahead.
//
// A program makes one Budget, admits each response with Admit, and passes
// the Account down in the request's context (NewContext) to the code that
// reads blocks; code that finds no Account in its context reads without
// accounting (command-line tools, tests).
package budget

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// ErrExhausted is returned (wrapped) by Admit when no floor could be
	// set aside before its context ended: the server is at its memory
	// budget.
	ErrExhausted = errors.New("memory budget exhausted")
	// ErrClientLimit is returned (wrapped) by Admit when the client has
	// the most responses in flight it may have (WithMaxPerClient).
	ErrClientLimit = errors.New("too many responses in flight for one client")
	// ErrShed is the cause a response is cut with when it is shed: its
	// client took nothing of a write for the stall time while a client
	// holding fewer responses waited for memory.
	ErrShed = errors.New("response shed: its client took nothing for the stall time while other clients waited for memory")
)

// DefaultStallAfter is how long a write to a client may go without
// returning before its response counts as stalled: a client reading at
// least one write (64 KiB in the gateway) a second never stalls.
const DefaultStallAfter = time.Second

// Option configures a Budget.
type Option func(*Budget)

// WithReserve keeps n bytes of the budget out of the floors: only
// read-ahead (and Take) uses them.
func WithReserve(n int64) Option { return func(b *Budget) { b.reserve = max(0, n) } }

// WithMaxPerClient caps the responses in flight (admitted or waiting) of
// one client, as Admit's ForClient names it (0: no cap). Responses without
// a client are not capped.
func WithMaxPerClient(n int) Option { return func(b *Budget) { b.maxPerClient = max(0, n) } }

// WithStallAfter sets the stall time (default DefaultStallAfter).
func WithStallAfter(d time.Duration) Option {
	return func(b *Budget) {
		if d > 0 {
			b.stallAfter = d
		}
	}
}

// Budget is a process-wide pool of bytes. Safe for concurrent use.
type Budget struct {
	size         int64
	reserve      int64
	maxPerClient int
	stallAfter   time.Duration
	epoch        time.Time // Account.send counts from it

	mu       sync.Mutex
	used     int64         // floors and borrowed bytes
	over     int64         // overdrafts in use (beyond size)
	floors   int64         // the floors of the admitted responses
	changed  chan struct{} // closed and replaced when bytes are returned
	clients  map[string]*client
	queued   map[*client]struct{} // clients with responses waiting
	waiting  int
	seq      uint64                // arrival order of waiting responses
	stalled  map[*Account]struct{} // admitted responses marked stalled
	shedding int                   // responses shed and not closed yet
	shed     int64                 // responses shed so far
}

// client is what one client holds and waits for.
type client struct {
	key      string
	admitted int
	shed     int // admitted responses shed, not closed yet
	queue    []*waiter
}

// holds is what the client holds for fairness: its responses not on their
// way out.
func (c *client) holds() int { return c.admitted - c.shed }

// waiter is a response waiting for its floor.
type waiter struct {
	c     *client
	floor int64
	seq   uint64
	ready chan struct{} // closed once acct is set
	acct  *Account
}

// New returns a budget of size bytes.
func New(size int64, opts ...Option) *Budget {
	b := &Budget{size: size, stallAfter: DefaultStallAfter, epoch: time.Now(), changed: make(chan struct{}),
		clients: make(map[string]*client), queued: make(map[*client]struct{}), stalled: make(map[*Account]struct{})}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Size returns the budget's size in bytes.
func (b *Budget) Size() int64 { return b.size }

// StallAfter returns the stall time.
func (b *Budget) StallAfter() time.Duration { return b.stallAfter }

// Used returns the bytes in use: floors, borrowed bytes and overdrafts.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used + b.over
}

// Waiting returns the number of new responses waiting for their floor.
func (b *Budget) Waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.waiting
}

// Responses returns the number of admitted responses not closed yet.
func (b *Budget) Responses() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, c := range b.clients {
		n += c.admitted
	}
	return n
}

// Stalled returns the number of admitted responses marked stalled.
func (b *Budget) Stalled() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.stalled)
}

// Shed returns the number of responses shed so far.
func (b *Budget) Shed() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.shed
}

// Overdraft returns the bytes in use beyond the budget's size.
func (b *Budget) Overdraft() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.over
}

// now is the time since the budget was made, in nanoseconds, never 0.
func (b *Budget) now() int64 { return int64(time.Since(b.epoch)) + 1 }

// tryTake takes n bytes if at least keep bytes stay free after it.
func (b *Budget) tryTake(n, keep int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.take(n, keep)
}

func (b *Budget) take(n, keep int64) bool {
	if b.used+n+keep > b.size {
		return false
	}
	b.used += n
	return true
}

// tryLend takes n bytes of read-ahead for a: only if no response waits
// whose client holds no more responses than a's (new responses of fairer
// or equal clients come before reading further ahead), and only if keep
// bytes stay free after it.
func (b *Budget) tryLend(a *Account, n, keep int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.waiting > 0 && b.best().c.holds() <= a.c.holds() {
		return false
	}
	return b.take(n, keep)
}

func (b *Budget) takeOver(n int64) {
	b.mu.Lock()
	b.over += n
	b.mu.Unlock()
}

// give returns used bytes and overdraft bytes to the pool.
func (b *Budget) give(used, over int64) {
	if used == 0 && over == 0 {
		return
	}
	b.mu.Lock()
	b.used -= used
	b.over -= over
	b.notify()
	cuts := b.rebalance()
	b.mu.Unlock()
	cut(cuts)
}

// notify wakes whoever waits for bytes (b.mu held).
func (b *Budget) notify() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// wait returns a channel closed the next time bytes are returned.
func (b *Budget) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.changed
}

// fits reports whether a floor of n bytes can be set aside now.
func (b *Budget) fits(n int64) bool {
	return b.used+n <= b.size && b.floors+n <= b.size-b.reserve
}

// client returns the client of key, made if new (b.mu held).
func (b *Budget) client(key string) *client {
	c := b.clients[key]
	if c == nil {
		c = &client{key: key}
		b.clients[key] = c
	}
	return c
}

// forget drops c once it holds and waits for nothing (b.mu held).
func (b *Budget) forget(c *client) {
	if c.admitted == 0 && len(c.queue) == 0 {
		delete(b.clients, c.key)
	}
}

// open admits a response of c with floor n (b.mu held).
func (b *Budget) open(c *client, n int64) *Account {
	b.used += n
	b.floors += n
	c.admitted++
	a := &Account{b: b, c: c, floor: n}
	a.timer = time.AfterFunc(time.Hour, a.checkStall) // armed by Sending
	a.timer.Stop()
	return a
}

// best returns the waiting response next in line: the oldest of the
// client holding the fewest responses (b.mu held, b.waiting > 0).
func (b *Budget) best() *waiter {
	var w *waiter
	for c := range b.queued {
		h := c.queue[0]
		if w == nil || c.holds() < w.c.holds() || c.holds() == w.c.holds() && h.seq < w.seq {
			w = h
		}
	}
	return w
}

// dequeue removes a waiting response (b.mu held).
func (b *Budget) dequeue(w *waiter) {
	q := w.c.queue
	for i := range q {
		if q[i] == w {
			w.c.queue = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	if len(w.c.queue) == 0 {
		delete(b.queued, w.c)
	}
	b.waiting--
}

// rebalance admits the waiting responses next in line while they fit, and
// when the next does not, picks a stalled response to shed for it. It
// returns the cut functions to call, without b.mu (b.mu held).
func (b *Budget) rebalance() []func() {
	for b.waiting > 0 {
		w := b.best()
		if !b.fits(w.floor) {
			if b.shedding > 0 {
				return nil // one at a time: the floor it frees goes to the best waiter
			}
			v := b.victim(w.c)
			if v == nil {
				return nil
			}
			v.shed = true
			v.c.shed++
			b.shedding++
			b.shed++
			return []func(){v.cut}
		}
		b.dequeue(w)
		w.acct = b.open(w.c, w.floor)
		close(w.ready)
	}
	return nil
}

// victim returns the stalled response to shed for a response of c: of the
// client holding most, at least two more than c, the one stalled longest;
// nil when there is none (b.mu held).
func (b *Budget) victim(c *client) *Account {
	var v *Account
	for a := range b.stalled {
		if a.shed || a.cut == nil || a.c.holds() < c.holds()+2 {
			continue
		}
		if v == nil || a.c.holds() > v.c.holds() || a.c.holds() == v.c.holds() && a.stallSince < v.stallSince {
			v = a
		}
	}
	return v
}

// cut calls the cut functions of shed responses, each on its own
// goroutine: they close connections and must not hold up the caller.
func cut(fns []func()) {
	for _, fn := range fns {
		go fn()
	}
}

// AdmitOption qualifies an admission.
type AdmitOption func(*admission)

type admission struct{ client string }

// ForClient admits the response as one of the client key (a remote
// address, say): see the package doc for what that changes. Responses
// admitted without it are all of one client, "".
func ForClient(key string) AdmitOption { return func(a *admission) { a.client = key } }

// Admit sets aside floor bytes for a new response, waiting while the
// budget has no room until ctx ends; then the error wraps ErrExhausted. A
// floor larger than the budget less its reserve is refused at once, and
// so is a response of a client at its limit (ErrClientLimit).
func (b *Budget) Admit(ctx context.Context, floor int64, opts ...AdmitOption) (*Account, error) {
	var o admission
	for _, opt := range opts {
		opt(&o)
	}
	if floor > b.size-b.reserve {
		return nil, fmt.Errorf("%w: a response needs %d bytes, the budget is %d (%d of it for read-ahead only)", ErrExhausted, floor, b.size, b.reserve)
	}
	b.mu.Lock()
	c := b.client(o.client)
	if n := c.admitted + len(c.queue); b.maxPerClient > 0 && o.client != "" && n >= b.maxPerClient {
		b.forget(c)
		b.mu.Unlock()
		return nil, fmt.Errorf("%w: %d responses in flight, the most one client may have", ErrClientLimit, n)
	}
	if b.waiting == 0 && b.fits(floor) {
		a := b.open(c, floor)
		b.mu.Unlock()
		return a, nil
	}
	w := &waiter{c: c, floor: floor, seq: b.seq, ready: make(chan struct{})}
	b.seq++
	if len(c.queue) == 0 {
		b.queued[c] = struct{}{}
	}
	c.queue = append(c.queue, w)
	b.waiting++
	cuts := b.rebalance()
	b.mu.Unlock()
	cut(cuts)
	select {
	case <-w.ready:
		return w.acct, nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	if w.acct != nil { // admitted as ctx ended
		b.mu.Unlock()
		return w.acct, nil
	}
	b.dequeue(w)
	cuts = b.rebalance() // a smaller floor behind it may fit
	b.forget(c)
	used, over := b.used, b.over
	b.mu.Unlock()
	cut(cuts)
	return nil, fmt.Errorf("%w: no %d bytes free of %d within the wait (%d in use, %d over): %w", ErrExhausted, floor, b.size, used, over, context.Cause(ctx))
}

// markStalled marks a stalled if the write that started at start is still
// under way, and reports whether it did, and whether a is closed.
func (b *Budget) markStalled(a *Account, start int64) (marked, closed bool) {
	b.mu.Lock()
	if gone := a.gone; gone || !a.send.CompareAndSwap(start, -start) {
		b.mu.Unlock()
		return false, gone
	}
	a.stallSince = start
	b.stalled[a] = struct{}{}
	cuts := b.rebalance() // a new candidate to shed
	b.mu.Unlock()
	cut(cuts)
	return true, false
}

func (b *Budget) unmarkStalled(a *Account) {
	b.mu.Lock()
	delete(b.stalled, a)
	b.mu.Unlock()
}

// Charge is what one Take or Borrow charged, to hand back to Release.
type Charge struct {
	floor, borrowed, over int64
}

// Bytes returns the bytes charged.
func (c Charge) Bytes() int64 { return c.floor + c.borrowed + c.over }

// Account is one response's share of a Budget: its floor and what it
// borrowed. Safe for concurrent use (the reads of a response run in several
// goroutines).
type Account struct {
	b *Budget
	c *client // its counts are under b.mu

	mu        sync.Mutex
	closed    bool
	floor     int64 // set aside at admission
	floorUsed int64
	borrowed  int64
	over      int64
	maxOver   int64 // the largest overdraft seen, for the request log
	hooks     map[int]func()
	nextHook  int

	// send is when the write under way started (Budget.now), 0 when none,
	// and negative once the write has been marked stalled.
	send  atomic.Int64
	armed atomic.Bool // a stall check is due; whoever arms it resets timer
	timer *time.Timer // runs checkStall

	// Under b.mu.
	gone       bool  // closed
	stallSince int64 // when the stalled write started
	shed       bool
	cut        func()
}

// Take charges n bytes the response needs now to make progress (the block
// its client waits for): from the floor, else from the budget, else as an
// overdraft. It never waits.
func (a *Account) Take(n int64) Charge {
	if a == nil {
		return Charge{}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return Charge{} // the response is over: nothing to account for
	}
	var c Charge
	c.floor = min(n, a.floor-a.floorUsed)
	a.floorUsed += c.floor
	rest := n - c.floor
	if rest == 0 {
		return c
	}
	if a.b.tryTake(rest, 0) {
		c.borrowed = rest
		a.borrowed += rest
		return c
	}
	c.over = rest
	a.over += rest
	a.maxOver = max(a.maxOver, a.over)
	a.b.takeOver(rest)
	return c
}

// TryBorrow charges n bytes of read-ahead to the budget if the response is
// not stalled, the budget has room for them and one more floor, and no
// response of a client holding no more responses waits for its floor:
// read-ahead never keeps a fair new response out. It never waits.
func (a *Account) TryBorrow(n int64) (Charge, bool) {
	if a == nil {
		return Charge{}, true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || a.Stalled() || !a.b.tryLend(a, n, a.floor) {
		return Charge{}, false
	}
	a.borrowed += n
	return Charge{borrowed: n}, true
}

// Borrow charges n bytes of read-ahead, waiting for the budget to have room
// (see TryBorrow). It stops waiting when ctx ends (with ctx's cause) or
// when urgent is closed, and then charges the bytes with Take: the caller
// closes urgent when the bytes are needed now after all (the client is
// waiting for this very block).
func (a *Account) Borrow(ctx context.Context, n int64, urgent <-chan struct{}) (Charge, error) {
	if a == nil {
		return Charge{}, nil
	}
	for {
		ch := a.b.wait()
		if c, ok := a.TryBorrow(n); ok {
			return c, nil
		}
		select {
		case <-ch:
		case <-urgent:
			return a.Take(n), nil
		case <-ctx.Done():
			return Charge{}, context.Cause(ctx)
		}
	}
}

// Settle moves what c borrowed or overdrew into the free part of the
// floor, as far as it goes, and returns the charge as it now stands. A
// block handed to the writer is what the response needs to progress, which
// the floor is for: read ahead, it was borrowed, and the borrowed bytes go
// back to the pool, so a response stalled on that block holds its floor.
func (a *Account) Settle(c Charge) Charge {
	if a == nil || c.borrowed == 0 && c.over == 0 {
		return c
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return c
	}
	room := a.floor - a.floorUsed
	fromBorrowed := min(room, c.borrowed)
	fromOver := min(room-fromBorrowed, c.over)
	if fromBorrowed+fromOver == 0 {
		return c
	}
	c.borrowed -= fromBorrowed
	c.over -= fromOver
	c.floor += fromBorrowed + fromOver
	a.borrowed -= fromBorrowed
	a.over -= fromOver
	a.floorUsed += fromBorrowed + fromOver
	a.b.give(fromBorrowed, fromOver)
	return c
}

// Release hands back a charge.
func (a *Account) Release(c Charge) {
	if a == nil || c == (Charge{}) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return // Close returned everything
	}
	a.floorUsed -= c.floor
	a.borrowed -= c.borrowed
	a.over -= c.over
	a.b.give(c.borrowed, c.over)
}

// MaxOverdraft returns the largest overdraft the account had at once.
func (a *Account) MaxOverdraft() int64 {
	if a == nil {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.maxOver
}

// Sending reports that the response starts a write to its client, and
// Sent that the write returned (whatever its outcome). A write that has
// not returned after the stall time marks the response stalled until it
// returns: the functions set with OnStall run, and TryBorrow refuses.
func (a *Account) Sending() {
	if a == nil {
		return
	}
	a.send.Store(a.b.now())
	if a.armed.CompareAndSwap(false, true) {
		a.timer.Reset(a.b.stallAfter)
	}
}

// Sent reports that the write reported by Sending returned.
func (a *Account) Sent() {
	if a == nil {
		return
	}
	if a.send.Swap(0) < 0 {
		a.b.unmarkStalled(a)
	}
}

// Stalled reports whether the response is stalled: a write to its client
// has not returned for the stall time.
func (a *Account) Stalled() bool { return a != nil && a.send.Load() < 0 }

// checkStall runs when a write may have been under way for the stall time
// (the owner of armed runs it, on the timer's goroutine).
func (a *Account) checkStall() {
	for {
		if start := a.send.Load(); start > 0 {
			if left := a.b.stallAfter - time.Duration(a.b.now()-start); left > 0 {
				a.timer.Reset(left) // a later write: still armed
				return
			}
			marked, closed := a.b.markStalled(a, start)
			if closed {
				return // nothing more to check, ever
			}
			if marked {
				a.reclaim()
			}
		}
		a.armed.Store(false)
		// A write that started since the load above may have found the
		// check armed: arm it again for that write.
		if s := a.send.Load(); s <= 0 || !a.armed.CompareAndSwap(false, true) {
			return
		}
	}
}

// reclaim runs the functions set with OnStall.
func (a *Account) reclaim() {
	a.mu.Lock()
	hooks := make([]func(), 0, len(a.hooks))
	for _, fn := range a.hooks {
		hooks = append(hooks, fn)
	}
	a.mu.Unlock()
	for _, fn := range hooks {
		fn()
	}
}

// OnStall sets fn to run (on a goroutine of its own) each time the
// response is marked stalled: it should give back what the response
// borrowed to read ahead. remove unsets it.
func (a *Account) OnStall(fn func()) (remove func()) {
	if a == nil {
		return func() {}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return func() {}
	}
	if a.hooks == nil {
		a.hooks = make(map[int]func())
	}
	id := a.nextHook
	a.nextHook++
	a.hooks[id] = fn
	return func() {
		a.mu.Lock()
		delete(a.hooks, id)
		a.mu.Unlock()
	}
}

// OnShed sets the function that cuts the response when it is shed (see
// the package doc); it runs on a goroutine of its own and must make the
// response end and Close its account. A response without one is never
// shed.
func (a *Account) OnShed(fn func()) {
	if a == nil {
		return
	}
	a.b.mu.Lock()
	a.cut = fn
	a.b.mu.Unlock()
}

// Shed reports whether the response was shed.
func (a *Account) Shed() bool {
	if a == nil {
		return false
	}
	a.b.mu.Lock()
	defer a.b.mu.Unlock()
	return a.shed
}

// Close returns the floor and everything still charged to the budget. Later
// Releases do nothing, and later borrowing fails.
func (a *Account) Close() {
	if a == nil {
		return
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.closed = true
	used, over := a.floor+a.borrowed, a.over
	a.floorUsed, a.borrowed, a.over = 0, 0, 0
	a.hooks = nil
	a.mu.Unlock()
	a.timer.Stop()
	b := a.b
	b.mu.Lock()
	b.used -= used
	b.over -= over
	b.floors -= a.floor
	a.gone = true
	delete(b.stalled, a)
	a.c.admitted--
	if a.shed {
		a.c.shed--
		b.shedding--
	}
	b.forget(a.c)
	b.notify()
	cuts := b.rebalance()
	b.mu.Unlock()
	cut(cuts)
}

type accountKey struct{}

// NewContext returns ctx carrying the account a.
func NewContext(ctx context.Context, a *Account) context.Context {
	return context.WithValue(ctx, accountKey{}, a)
}

// FromContext returns the account in ctx, or nil (no accounting: every
// method of a nil *Account charges nothing and never waits).
func FromContext(ctx context.Context) *Account {
	a, _ := ctx.Value(accountKey{}).(*Account)
	return a
}
