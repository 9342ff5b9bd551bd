package certs

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/test/pgtest"
)

// sharedEdges are the shared caches of n edges on one fresh PostgreSQL
// database, for the CA "ca", looking every few milliseconds for a
// certificate another edge orders.
func sharedEdges(t *testing.T, n int) []*SharedCache {
	t.Helper()
	url := pgtest.URL(t)
	var caches []*SharedCache
	for i := range n {
		s, err := store.OpenPostgres(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		c := NewSharedCache(s, store.ErrCertMiss, string(rune('a'+i)), nil).forCA("ca")
		c.poll = 5 * time.Millisecond
		caches = append(caches, c)
	}
	return caches
}

// certPEM is a certificate as autocert caches it (key, then chain),
// valid until notAfter.
func certPEM(t *testing.T, notAfter time.Time) []byte {
	t.Helper()
	leaf, key, err := issue(&x509.Certificate{DNSNames: []string{"demo.hooks.test"}, NotBefore: notAfter.Add(-90 * 24 * time.Hour), NotAfter: notAfter}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})
	return b.Bytes()
}

// One edge orders a missing certificate; another waits for it and gets
// it, without a miss of its own (a miss is what makes autocert order).
func TestSharedCacheOneEdgeOrders(t *testing.T) {
	t.Parallel()
	edges, ctx := sharedEdges(t, 2), context.Background()
	const host = "demo.hooks.test"
	if _, err := edges[0].Get(ctx, host); err != autocert.ErrCacheMiss {
		t.Fatalf("the first edge: %v, want a miss (it orders)", err)
	}
	type result struct {
		data []byte
		err  error
	}
	waited := make(chan result, 1)
	go func() {
		data, err := edges[1].Get(ctx, host)
		waited <- result{data, err}
	}()
	cert := certPEM(t, time.Now().Add(90*24*time.Hour))
	if err := edges[0].Put(ctx, host, cert); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-waited:
		if r.err != nil || !bytes.Equal(r.data, cert) {
			t.Fatalf("the waiting edge got %d bytes, %v; want the first edge's certificate", len(r.data), r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the waiting edge never got the certificate")
	}
	// Put released the lock: a later renewal may be ordered by anyone.
	if taken, err := edges[1].store.LockCert(ctx, "ca/"+host, "b", time.Now().Add(time.Minute)); err != nil || !taken {
		t.Fatalf("the lock after Put: taken %v, %v; want free", taken, err)
	}
}

func TestSharedCacheMisses(t *testing.T) {
	t.Parallel()
	const host = "demo.hooks.test"
	tests := []struct {
		name string
		// setup runs on edge 0; then edge 1 gets key, bounded by 2 s.
		setup   func(t *testing.T, c *SharedCache)
		key     string
		wantErr error
	}{
		{"the account key misses at once, unlocked", func(t *testing.T, c *SharedCache) {}, "acme_account+key", autocert.ErrCacheMiss},
		{"an HTTP-01 token misses at once, unlocked", func(t *testing.T, c *SharedCache) {}, "tok+http-01", autocert.ErrCacheMiss},
		{"a TLS-ALPN-01 token misses at once, unlocked", func(t *testing.T, c *SharedCache) {}, host + "+token", autocert.ErrCacheMiss},
		{"an expired certificate is ordered again", func(t *testing.T, c *SharedCache) {
			if err := c.Put(context.Background(), host, certPEM(t, time.Now().Add(-time.Hour))); err != nil {
				t.Fatal(err)
			}
		}, host, autocert.ErrCacheMiss},
		{"a lapsed lock is taken over", func(t *testing.T, c *SharedCache) {
			c.lease = -time.Second
			if _, err := c.Get(context.Background(), host); err != autocert.ErrCacheMiss {
				t.Fatal(err)
			}
		}, host, autocert.ErrCacheMiss},
		{"the wait is bounded by the context", func(t *testing.T, c *SharedCache) {
			if _, err := c.Get(context.Background(), host); err != autocert.ErrCacheMiss {
				t.Fatal(err)
			}
		}, host, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			edges := sharedEdges(t, 2)
			tc.setup(t, edges[0])
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if _, err := edges[1].Get(ctx, tc.key); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Get(%s): %v, want %v", tc.key, err, tc.wantErr)
			}
		})
	}
}

// An HTTP-01 token one edge stores is answered by another; each CA's
// entries are its own.
func TestSharedCacheTokensAndCAs(t *testing.T) {
	t.Parallel()
	edges, ctx := sharedEdges(t, 2), context.Background()
	if err := edges[0].Put(ctx, "tok+http-01", []byte("tok.thumbprint")); err != nil {
		t.Fatal(err)
	}
	if got, err := edges[1].Get(ctx, "tok+http-01"); err != nil || string(got) != "tok.thumbprint" {
		t.Fatalf("the other edge's token: %q, %v", got, err)
	}
	if _, err := edges[1].forCA("staging").Get(ctx, "tok+http-01"); err != autocert.ErrCacheMiss {
		t.Fatalf("another CA sees the token: %v", err)
	}
	if err := edges[1].Delete(ctx, "tok+http-01"); err != nil {
		t.Fatal(err)
	}
	if _, err := edges[0].Get(ctx, "tok+http-01"); err != autocert.ErrCacheMiss {
		t.Fatalf("after Delete: %v, want a miss", err)
	}
}
