package lambdatest

import "context"

// WaitOutput waits until the output (see Output) holds every one of want,
// or until ctx ends, and returns it. The emulator relays what the function
// writes as it comes, and writes its own lines (the runtime's exit, for
// one) after it has replied: a line written before an invoke returned may
// reach the output after it. The error, when ctx ended first, names what
// is missing.
func (e *Emulator) WaitOutput(ctx context.Context, want ...string) (string, error) {
	return e.out.Wait(ctx, want...)
}

// OutputLine waits until the output holds a whole line containing substr,
// or until ctx ends, and returns the last such line (see WaitOutput).
func (e *Emulator) OutputLine(ctx context.Context, substr string) (string, error) {
	return e.out.WaitLine(ctx, substr)
}
