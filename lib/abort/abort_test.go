package abort_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/abort"
)

type aborting struct {
	http.ResponseWriter
	err error
}

func (a *aborting) Abort(err error) { a.err = err }

type wrapper struct{ http.ResponseWriter }

func (w wrapper) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Response finds the Aborter behind wrappers, and reports false when
// there is none.
func TestResponse(t *testing.T) {
	errCut := errors.New("cut")
	a := &aborting{ResponseWriter: httptest.NewRecorder()}
	if !abort.Response(wrapper{wrapper{a}}, errCut) || a.err != errCut {
		t.Fatalf("through two wrappers: err %v", a.err)
	}
	if abort.Response(wrapper{httptest.NewRecorder()}, errCut) {
		t.Fatal("no Aborter: reported true")
	}
}
