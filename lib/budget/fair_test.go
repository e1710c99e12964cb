package budget_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/budget"
)

// admitAs admits a response of client, failing the test on an error.
func admitAs(t *testing.T, b *budget.Budget, client string, floor int64) *budget.Account {
	t.Helper()
	a, err := b.Admit(context.Background(), floor, budget.ForClient(client))
	if err != nil {
		t.Fatalf("admit %s: %v", client, err)
	}
	return a
}

// admitLater admits a response of client on its own goroutine, once it is
// its turn: its account comes on the channel (nil after an error).
func admitLater(ctx context.Context, b *budget.Budget, client string, floor int64) <-chan *budget.Account {
	ch := make(chan *budget.Account, 1)
	go func() {
		a, err := b.Admit(ctx, floor, budget.ForClient(client))
		if err != nil {
			a = nil
		}
		ch <- a
	}()
	return ch
}

// The next floor goes to the client holding the fewest responses, then to
// the oldest request: a client that holds many waits behind newcomers.
func TestFairAdmission(t *testing.T) {
	b := budget.New(10)
	var held []*budget.Account
	for range 4 {
		held = append(held, admitAs(t, b, "a", 2))
	}
	b1 := admitAs(t, b, "b", 2) // full
	defer b1.Close()
	ctx := testutil.WaitContext(t)
	a5 := admitLater(ctx, b, "a", 2)
	waitWaiting(t, b, 1)
	a6 := admitLater(ctx, b, "a", 2)
	waitWaiting(t, b, 2)
	c1 := admitLater(ctx, b, "c", 2)
	waitWaiting(t, b, 3)
	b2 := admitLater(ctx, b, "b", 2)
	waitWaiting(t, b, 4)
	// Each floor freed goes to the fairest waiter: c (holds 0), then b
	// (holds 1), then a's, oldest first.
	for i, want := range []<-chan *budget.Account{c1, b2, a5, a6} {
		held[i].Close()
		select {
		case got := <-want:
			if got == nil {
				t.Fatalf("admission %d failed", i)
			}
			defer got.Close()
		case <-ctx.Done():
			t.Fatalf("admission %d did not come after a floor was freed", i)
		}
		if b.Waiting() != 3-i {
			t.Fatalf("after admission %d, %d wait, want %d", i, b.Waiting(), 3-i)
		}
	}
}

// A client has at most the limit in flight, admitted or waiting; requests
// without a client are not limited.
func TestClientLimit(t *testing.T) {
	b := budget.New(100, budget.WithMaxPerClient(2))
	a1, a2 := admitAs(t, b, "a", 1), admitAs(t, b, "a", 1)
	if _, err := b.Admit(context.Background(), 1, budget.ForClient("a")); !errors.Is(err, budget.ErrClientLimit) {
		t.Fatalf("a third response of a: %v, want ErrClientLimit", err)
	}
	for range 3 {
		admitAs(t, b, "", 1).Close()
	}
	admitAs(t, b, "b", 1).Close()
	a1.Close()
	admitAs(t, b, "a", 1).Close() // one in flight again
	a2.Close()
	if b.Used() != 0 || b.Responses() != 0 {
		t.Fatalf("used %d, %d responses after all closed", b.Used(), b.Responses())
	}
}

// Floors never take the reserve; read-ahead may.
func TestReserve(t *testing.T) {
	b := budget.New(10, budget.WithReserve(4))
	a1, a2 := admitAs(t, b, "", 3), admitAs(t, b, "", 3)
	defer a1.Close()
	defer a2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := b.Admit(ctx, 3); !errors.Is(err, budget.ErrExhausted) {
		t.Fatalf("a floor in the reserve: %v, want ErrExhausted", err)
	}
	if _, err := b.Admit(context.Background(), 7); !errors.Is(err, budget.ErrExhausted) {
		t.Fatalf("a floor larger than the budget less the reserve: %v, want ErrExhausted at once", err)
	}
	if _, ok := a1.TryBorrow(1); !ok {
		t.Fatal("read-ahead refused the reserve")
	}
}

// Read-ahead yields to a waiting response only if its client holds no more
// responses than the borrower's.
func TestReadAheadYieldsToFairerWaiters(t *testing.T) {
	b := budget.New(20, budget.WithReserve(12)) // four floors of 2
	var as []*budget.Account
	for range 3 {
		as = append(as, admitAs(t, b, "a", 2))
	}
	bb := admitAs(t, b, "b", 2)
	defer func() {
		for _, a := range append(as, bb) {
			a.Close()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	admitLater(ctx, b, "a", 2) // a holds 3 and waits
	waitWaiting(t, b, 1)
	if _, ok := as[0].TryBorrow(2); ok {
		t.Error("a read ahead while a new response of a waited")
	}
	if _, ok := bb.TryBorrow(2); !ok {
		t.Error("b (holding 1) could not read ahead while a (holding 3) waited")
	}
}

// Settle moves a borrowed charge into the floor's free part.
func TestSettle(t *testing.T) {
	b := budget.New(100)
	a := admitAs(t, b, "", 10)
	defer a.Close()
	c, ok := a.TryBorrow(6)
	if !ok || b.Used() != 16 {
		t.Fatalf("borrow: %v, used %d", ok, b.Used())
	}
	c = a.Settle(c)
	if b.Used() != 10 {
		t.Fatalf("used %d after Settle, want the floor (10)", b.Used())
	}
	big, _ := a.TryBorrow(8)
	big = a.Settle(big) // 4 fit in the floor, 4 stay borrowed
	if b.Used() != 14 {
		t.Fatalf("used %d, want 14", b.Used())
	}
	a.Release(c)
	a.Release(big)
	if b.Used() != 10 {
		t.Fatalf("used %d after release, want 10", b.Used())
	}
}

// A write that does not return for the stall time marks the response
// stalled: its stall hooks run (and give back what it borrowed), it may
// borrow nothing, until the write returns.
func TestStallGivesBack(t *testing.T) {
	b := budget.New(100, budget.WithStallAfter(testutil.ProvokedTimeout))
	a := admitAs(t, b, "", 10)
	defer a.Close()
	c, ok := a.TryBorrow(20)
	if !ok {
		t.Fatal("no read-ahead")
	}
	stalled := make(chan time.Time, 1)
	a.OnStall(func() {
		a.Release(c)
		stalled <- time.Now()
	})
	// A write that returns within the stall time is no stall.
	a.Sending()
	a.Sent()
	start := time.Now()
	a.Sending()
	select {
	case at := <-stalled:
		if took := at.Sub(start); took < b.StallAfter() {
			t.Errorf("stalled after %s, before the stall time (%s)", took, b.StallAfter())
		}
	case <-time.After(b.StallAfter() + testutil.Slack):
		t.Fatal("a write under way for the stall time did not stall the response")
	}
	if !a.Stalled() || b.Stalled() != 1 || b.Used() != 10 {
		t.Fatalf("stalled %v (%d in the budget), used %d: want stalled, the floor alone", a.Stalled(), b.Stalled(), b.Used())
	}
	if _, ok := a.TryBorrow(1); ok {
		t.Error("a stalled response borrowed")
	}
	a.Sent()
	if a.Stalled() || b.Stalled() != 0 {
		t.Fatal("still stalled after the write returned")
	}
	if _, ok := a.TryBorrow(1); !ok {
		t.Error("no read-ahead once the write returned")
	}
}

// A stalled response is shed for a waiting response of a client holding at
// least two fewer, never for one of its own client, and a client holding a
// single response is never shed.
func TestShedStalled(t *testing.T) {
	b := budget.New(8, budget.WithStallAfter(testutil.ProvokedTimeout)) // four floors of 2
	shed := make(chan string, 8)
	admit := func(client, name string) *budget.Account {
		a := admitAs(t, b, client, 2)
		a.OnShed(func() { shed <- name })
		return a
	}
	a1, a2, a3 := admit("a", "a1"), admit("a", "a2"), admit("a", "a3")
	d1 := admit("d", "d1")
	defer func() {
		for _, a := range []*budget.Account{a2, a3, d1} {
			a.Close()
		}
	}()
	stalledNow := func(a *budget.Account) {
		t.Helper()
		ch := make(chan struct{}, 1)
		remove := a.OnStall(func() { ch <- struct{}{} })
		defer remove()
		a.Sending() // and never Sent
		select {
		case <-ch:
		case <-time.After(b.StallAfter() + testutil.Slack):
			t.Fatal("no stall")
		}
	}
	stalledNow(a1)
	stalledNow(d1)
	ctx := testutil.WaitContext(t)
	// A newcomer of a: a's own stalled response stays (a holds 3).
	sameCtx, cancelSame := context.WithCancel(ctx)
	same := admitLater(sameCtx, b, "a", 2)
	waitWaiting(t, b, 1)
	// A newcomer of c (holding 0): a1 goes, a holding 3.
	c1 := admitLater(ctx, b, "c", 2)
	select {
	case name := <-shed:
		if name != "a1" {
			t.Fatalf("%s shed, want a1", name)
		}
	case <-ctx.Done():
		t.Fatal("nothing shed for a client holding none")
	}
	if !a1.Shed() || b.Shed() != 1 {
		t.Fatalf("a1 shed %v, %d in all", a1.Shed(), b.Shed())
	}
	a1.Close() // what the cut does
	var got *budget.Account
	select {
	case got = <-c1:
	case <-ctx.Done():
		t.Fatal("c not admitted in a1's place")
	}
	if got == nil {
		t.Fatal("c's admission failed")
	}
	defer got.Close()
	// Left: a holds 2 and waits, c holds 1, d holds its one (stalled)
	// response: nobody holds two more than a waiter, nothing is shed.
	cancelSame()
	if a := <-same; a != nil {
		a.Close()
		t.Fatal("a's newcomer admitted with the floors full")
	}
	e := admitLater(ctx, b, "e", 2) // holds 0: d1 (d holds 1) stays
	waitWaiting(t, b, 1)
	select {
	case name := <-shed:
		t.Fatalf("%s shed: a client holding a single response", name)
	default:
	}
	a3.Close()
	if a := <-e; a != nil {
		a.Close()
	} else {
		t.Fatal("e's admission failed")
	}
	if b.Shed() != 1 {
		t.Fatalf("%d shed, want 1", b.Shed())
	}
}
