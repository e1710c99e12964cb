package budget_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/budget"
)

func TestAdmitWaitsThenRefuses(t *testing.T) {
	b := budget.New(10)
	a1, err := b.Admit(context.Background(), 6)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.Admit(ctx, 6); !errors.Is(err, budget.ErrExhausted) {
		t.Fatalf("second admit over the budget: %v, want ErrExhausted", err)
	}
	// A waiting admission goes through when the first response ends.
	done := make(chan error, 1)
	go func() {
		a2, err := b.Admit(context.Background(), 6)
		if err == nil {
			a2.Close()
		}
		done <- err
	}()
	waitWaiting(t, b, 1)
	a1.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("admission did not go through after a release")
	}
	if got := b.Used(); got != 0 {
		t.Fatalf("used after all closed = %d", got)
	}
	if _, err := b.Admit(context.Background(), 11); !errors.Is(err, budget.ErrExhausted) {
		t.Fatalf("floor over the size: %v", err)
	}
}

func TestTakeFloorThenPoolThenOverdraft(t *testing.T) {
	b := budget.New(10)
	a, _ := b.Admit(context.Background(), 4)
	c1 := a.Take(3) // floor
	c2 := a.Take(3) // 1 floor + 2 pool
	if b.Used() != 6 {
		t.Fatalf("used = %d, want 6 (floor 4 + 2 borrowed)", b.Used())
	}
	other, _ := b.Admit(context.Background(), 4) // the pool is now full
	c3 := a.Take(5)                              // nothing left: overdraft
	if b.Overdraft() != 5 || a.MaxOverdraft() != 5 {
		t.Fatalf("overdraft = %d / %d, want 5", b.Overdraft(), a.MaxOverdraft())
	}
	for _, c := range []budget.Charge{c1, c2, c3} {
		a.Release(c)
	}
	if b.Used() != 8 || b.Overdraft() != 0 {
		t.Fatalf("after release used = %d over = %d, want the two floors (8) and 0", b.Used(), b.Overdraft())
	}
	a.Close()
	other.Close()
	if b.Used() != 0 {
		t.Fatalf("used = %d after close", b.Used())
	}
	// A closed account charges nothing.
	if c := a.Take(100); c.Bytes() != 0 || b.Used() != 0 {
		t.Fatalf("take after close charged %d", c.Bytes())
	}
}

func TestBorrowKeepsRoomForAFloor(t *testing.T) {
	b := budget.New(10)
	a, _ := b.Admit(context.Background(), 3)
	if _, ok := a.TryBorrow(5); ok {
		t.Fatal("borrowed 5 of the 7 free, leaving less than a floor (3)")
	}
	c, ok := a.TryBorrow(4)
	if !ok {
		t.Fatal("could not borrow 4 of 7 free with 3 to spare")
	}
	// Borrow waits for room, and Release makes it.
	got := make(chan error, 1)
	ctx := newWaitCtx()
	go func() {
		_, err := a.Borrow(ctx, 2, nil)
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("borrow did not wait: %v", err)
	case <-ctx.waiting:
	case <-time.After(testutil.WaitTimeout):
		t.Fatal("borrow neither returned nor waited")
	}
	a.Release(c)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	a.Close()
}

func TestBorrowStopsWhenUrgentOrCancelled(t *testing.T) {
	b := budget.New(10)
	a, _ := b.Admit(context.Background(), 5)
	defer a.Close()
	filler, _ := b.Admit(context.Background(), 5)
	defer filler.Close()

	urgent := make(chan struct{})
	time.AfterFunc(10*time.Millisecond, func() { close(urgent) })
	c, err := a.Borrow(context.Background(), 2, urgent)
	if err != nil || c.Bytes() != 2 {
		t.Fatalf("urgent borrow: %v, %d bytes", err, c.Bytes())
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("client went away")
	time.AfterFunc(10*time.Millisecond, func() { cancel(cause) })
	if _, err := a.Borrow(ctx, 2, nil); !errors.Is(err, cause) {
		t.Fatalf("cancelled borrow: %v, want the cause", err)
	}
}

// Many responses taking, borrowing and releasing at once never leave bytes
// charged after they close.
func TestConcurrentAccounting(t *testing.T) {
	b := budget.New(1 << 20)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := b.Admit(context.Background(), 64<<10)
			if err != nil {
				t.Error(err)
				return
			}
			defer a.Close()
			for i := range 100 {
				// The consumer waits for the block (urgent) every other
				// time: then a borrow never waits for long.
				urgent := make(chan struct{})
				if i%2 == 0 {
					close(urgent)
				} else {
					time.AfterFunc(time.Millisecond, func() { close(urgent) })
				}
				c, err := a.Borrow(context.Background(), int64(1+i%7)<<10, urgent)
				if err != nil {
					t.Error(err)
					return
				}
				h := a.Take(32 << 10)
				a.Release(c)
				a.Release(h)
			}
		}()
	}
	wg.Wait()
	if b.Used() != 0 {
		t.Fatalf("used = %d after every account closed", b.Used())
	}
}

func TestNilAccount(t *testing.T) {
	var a *budget.Account
	if budget.FromContext(context.Background()) != nil {
		t.Fatal("account in an empty context")
	}
	a.Release(a.Take(10))
	if _, ok := a.TryBorrow(10); !ok {
		t.Fatal("a nil account refuses")
	}
	a.Close()
}

// Read-ahead yields to a new response waiting for its floor: while one
// waits, nothing is lent, so the bytes read-ahead hands back reach it.
func TestBorrowYieldsToAdmission(t *testing.T) {
	b := budget.New(10)
	a, _ := b.Admit(context.Background(), 1)
	defer a.Close()
	c, ok := a.TryBorrow(5) // 6 used, 4 free
	if !ok {
		t.Fatal("could not borrow")
	}
	admitted := make(chan error, 1)
	go func() {
		big, err := b.Admit(context.Background(), 5) // waits: 4 free
		if err == nil {
			big.Close()
		}
		admitted <- err
	}()
	waitWaiting(t, b, 1)
	// 1 + a floor of 1 fits in the 4 free, but a response waits.
	if _, ok := a.TryBorrow(1); ok {
		t.Fatal("read-ahead was lent while a new response waited for its floor")
	}
	a.Release(c)
	if err := <-admitted; err != nil {
		t.Fatal(err)
	}
	if b.Waiting() != 0 {
		t.Fatalf("waiting = %d after the admission", b.Waiting())
	}
	if _, ok := a.TryBorrow(1); !ok {
		t.Fatal("no read-ahead once nobody waits")
	}
}

// waitWaiting waits until n admissions wait for their floor.
func waitWaiting(t *testing.T, b *budget.Budget, n int) {
	t.Helper()
	if !testutil.Eventually(func() bool { return b.Waiting() >= n }) {
		t.Fatalf("%d admissions waiting, want %d", b.Waiting(), n)
	}
}

// waitCtx is a context whose waiting is closed when Done is first called:
// Borrow calls it only to wait, once it found no room.
type waitCtx struct {
	context.Context
	once    *sync.Once
	waiting chan struct{}
}

func newWaitCtx() waitCtx {
	return waitCtx{Context: context.Background(), once: new(sync.Once), waiting: make(chan struct{})}
}

func (c waitCtx) Done() <-chan struct{} {
	c.once.Do(func() { close(c.waiting) })
	return c.Context.Done()
}
