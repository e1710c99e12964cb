package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/budget"
	"github.com/hash-stream/hash-stream-aws/lib/cache"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// What `serve` needs to run as a service (a container, a load balancer's
// target): health and readiness endpoints beside the gateway, and
// Prometheus metrics on a listener of their own, off by default, so they
// are never public through a CDN in front of the gateway.

// readyTimeout bounds one readiness check of the stores.
const readyTimeout = 3 * time.Second

// probeKey is the multihash readiness looks up: the stores must answer
// for it (found or not found), not fail.
var probeKey, _ = multihash.Sum([]byte("hash-stream readiness probe"), multihash.SHA2_256, -1)

// withHealth serves /healthz (the process is up) and /readyz (the stores
// answer) in front of the gateway handler h.
func withHealth(h http.Handler, st *stores) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Header().Set("Cache-Control", "no-store")
			io.WriteString(w, "ok\n")
		case "/readyz":
			w.Header().Set("Cache-Control", "no-store")
			if err := storesReady(r.Context(), st); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "ready\n")
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// storesReady checks that both stores answer: a lookup of a multihash no
// one stores must come back "not found", not fail or hang.
func storesReady(ctx context.Context, st *stores) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if _, err := st.index.Files(ctx, probeKey); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("index store: %w", err)
	}
	rc, err := st.packs.GetRange(ctx, store.Location{Multihash: probeKey}, 0, 1)
	if err == nil {
		rc.Close()
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("pack store: %w", err)
	}
	return nil
}

// metrics are serve's Prometheus metrics.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	bytes    prometheus.Counter
	reads    prometheus.Counter
	blocks   prometheus.Counter
	ttfb     *prometheus.HistogramVec
	duration *prometheus.HistogramVec
}

// newMetrics registers serve's metrics; indexCache and bud may be nil.
func newMetrics(indexCache *cache.Cache[string, *index.Set], bud *budget.Budget) *metrics {
	m := &metrics{registry: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hashstream_requests_total", Help: "Gateway requests by status and format.",
	}, []string{"status", "format"})
	m.bytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "hashstream_response_bytes_total", Help: "Response body bytes written."})
	m.reads = prometheus.NewCounter(prometheus.CounterOpts{Name: "hashstream_storage_reads_total", Help: "Ranged reads issued to the pack store."})
	m.blocks = prometheus.NewCounter(prometheus.CounterOpts{Name: "hashstream_blocks_total", Help: "Blocks verified and served."})
	buckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}
	m.ttfb = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "hashstream_ttfb_seconds", Help: "Time to the status line.", Buckets: buckets,
	}, []string{"format"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "hashstream_request_duration_seconds", Help: "Time to the end of the response.", Buckets: buckets,
	}, []string{"format"})
	m.registry.MustRegister(m.requests, m.bytes, m.reads, m.blocks, m.ttfb, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if indexCache != nil {
		m.registry.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hashstream_index_cache_hits_total", Help: "Index cache hits."},
				func() float64 { h, _ := indexCache.Stats(); return float64(h) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hashstream_index_cache_misses_total", Help: "Index cache misses."},
				func() float64 { _, miss := indexCache.Stats(); return float64(miss) }),
		)
	}
	if bud != nil {
		m.registry.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hashstream_memory_budget_used_bytes", Help: "Bytes of the memory budget in use."},
				func() float64 { return float64(bud.Used()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hashstream_memory_budget_waiting", Help: "Responses waiting for memory budget."},
				func() float64 { return float64(bud.Waiting()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hashstream_memory_budget_responses", Help: "Responses admitted to the memory budget."},
				func() float64 { return float64(bud.Responses()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hashstream_memory_budget_stalled", Help: "Admitted responses whose client took nothing for the stall time."},
				func() float64 { return float64(bud.Stalled()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hashstream_responses_shed_total", Help: "Stalled responses cut to admit a client holding fewer."},
				func() float64 { return float64(bud.Shed()) }),
		)
	}
	return m
}

// observe records one request.
func (m *metrics) observe(o gateway.Observation) {
	format := o.Format
	if format == "" {
		format = "none"
	}
	m.requests.WithLabelValues(strconv.Itoa(o.Status), format).Inc()
	m.bytes.Add(float64(o.Bytes))
	m.reads.Add(float64(o.Reads))
	m.blocks.Add(float64(o.Blocks))
	if o.TTFB > 0 {
		m.ttfb.WithLabelValues(format).Observe(o.TTFB.Seconds())
	}
	m.duration.WithLabelValues(format).Observe(o.Duration.Seconds())
}

// handler serves the metrics in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	return mux
}
