package memory

import (
	"context"
	"fmt"
)

// each calls fn on the entries of a snapshot in turn, until fn fails (its
// error returned as it is) or ctx is done.
func each[E any](ctx context.Context, what string, entries []E, fn func(E) error) error {
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("memory: list %s: %w", what, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}
