package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// maxListDocument bounds a provider document. The largest real one
// (Atlassian's, every product and region) is well under 1 MiB.
const maxListDocument = 4 << 20

// listFetcher downloads provider list documents with every wait bounded, so
// a cron job never hangs on a provider that stopped answering.
type listFetcher struct {
	client    *http.Client
	userAgent string
}

func newListFetcher(timeout time.Duration) *listFetcher {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment, // loopback is never proxied
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &listFetcher{
		client: &http.Client{
			Transport: tr,
			Timeout:   timeout, // the whole exchange, body included
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 5 {
					return errors.New("more than 5 redirects")
				}
				// An https source redirected to plain http could be rewritten
				// on the way; a list of trusted addresses must not be.
				if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
					return fmt.Errorf("refusing redirect from https to %s", req.URL.Redacted())
				}
				return nil
			},
		},
		// GitHub's API refuses requests without a User-Agent.
		userAgent: "hooktunnel/" + version + " (ips update)",
	}
}

// fetch returns the body of a 200 answer to GET url.
func (f *listFetcher) fetch(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", f.userAgent)
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", req.URL.Redacted(), resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxListDocument+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading body: %w", req.URL.Redacted(), err)
	}
	if len(body) > maxListDocument {
		return nil, fmt.Errorf("GET %s: document larger than %d MiB", req.URL.Redacted(), maxListDocument>>20)
	}
	return body, nil
}

// close releases idle connections; the fetcher lives for one command.
func (f *listFetcher) close() { f.client.CloseIdleConnections() }
