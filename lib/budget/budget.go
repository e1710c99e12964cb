// Package budget bounds the bytes that responses hold in memory (read-ahead
// and block buffers), process-wide, whatever the number of clients.
//
// A Budget is one pool of bytes. Each response is admitted with an Account
// that holds a floor: bytes set aside for it alone, enough for the block it
// is about to write. Everything else a response buffers (reading ahead of
// its client) is borrowed from the pool while the pool has room, and waits
// otherwise. A response never waits for the bytes it needs to make progress
// (Take): those come from its floor, from the pool, or, only when a block is
// larger than the floor and the pool is spent, as an overdraft that is
// counted and reported. So no response can starve another into a deadlock,
// and a stalled client holds at most its floor and what it borrowed until
// its deadline drops it.
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
)

// ErrExhausted is returned (wrapped) by Admit when no floor could be set
// aside before its context ended: the server is at its memory budget.
var ErrExhausted = errors.New("memory budget exhausted")

// Budget is a process-wide pool of bytes. Safe for concurrent use.
type Budget struct {
	mu      sync.Mutex
	size    int64
	used    int64         // floors and borrowed bytes
	over    int64         // overdrafts in use (beyond size)
	admits  int           // admissions waiting for a floor
	changed chan struct{} // closed and replaced when bytes are returned
}

// New returns a budget of size bytes.
func New(size int64) *Budget {
	return &Budget{size: size, changed: make(chan struct{})}
}

// Size returns the budget's size in bytes.
func (b *Budget) Size() int64 { return b.size }

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
	return b.admits
}

// Overdraft returns the bytes in use beyond the budget's size.
func (b *Budget) Overdraft() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.over
}

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

// tryLend takes n bytes of read-ahead: only while no admission waits (new
// responses come before reading further ahead for admitted ones), and
// only if keep bytes stay free after it.
func (b *Budget) tryLend(n, keep int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.admits == 0 && b.take(n, keep)
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
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

// wait returns a channel closed the next time bytes are returned.
func (b *Budget) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.changed
}

// Admit sets aside floor bytes for a new response, waiting while the
// budget has no room until ctx ends; then the error wraps ErrExhausted. A
// floor larger than the whole budget is refused at once.
func (b *Budget) Admit(ctx context.Context, floor int64) (*Account, error) {
	if floor > b.size {
		return nil, fmt.Errorf("%w: a response needs %d bytes, the budget is %d", ErrExhausted, floor, b.size)
	}
	waiting := false
	defer func() {
		if waiting {
			b.mu.Lock()
			b.admits--
			b.mu.Unlock()
		}
	}()
	for {
		ch := b.wait()
		if b.tryTake(floor, 0) {
			return &Account{b: b, floor: floor}, nil
		}
		if !waiting {
			waiting = true
			b.mu.Lock()
			b.admits++
			b.mu.Unlock()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			b.mu.Lock()
			used, over := b.used, b.over
			b.mu.Unlock()
			return nil, fmt.Errorf("%w: no %d bytes free of %d within the wait (%d in use, %d over): %w", ErrExhausted, floor, b.size, used, over, context.Cause(ctx))
		}
	}
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

	mu        sync.Mutex
	closed    bool
	floor     int64 // set aside at admission
	floorUsed int64
	borrowed  int64
	over      int64
	maxOver   int64 // the largest overdraft seen, for the request log
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

// TryBorrow charges n bytes of read-ahead to the budget if it has room for
// them and one more floor, and no new response waits for its floor: read-
// ahead never keeps a new response out. It never waits.
func (a *Account) TryBorrow(n int64) (Charge, bool) {
	if a == nil {
		return Charge{}, true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || !a.b.tryLend(n, a.floor) {
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

// Close returns the floor and everything still charged to the budget. Later
// Releases do nothing, and later borrowing fails.
func (a *Account) Close() {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.closed = true
	a.b.give(a.floor+a.borrowed, a.over)
	a.floorUsed, a.borrowed, a.over = 0, 0, 0
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
