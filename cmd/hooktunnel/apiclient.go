package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

// apiFlags are the flags of the commands that call the admin API.
type apiFlags struct {
	api, token string
	json       bool
}

func (f *apiFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.api, "api", "http://127.0.0.1:9090", "the admin API: the edge's --admin-listen, or an agent's inspector")
	cmd.PersistentFlags().StringVar(&f.token, "token", "", "the admin token (default $HOOKTUNNEL_ADMIN_TOKEN); needed when the admin API is not on loopback")
	cmd.PersistentFlags().BoolVar(&f.json, "json", false, "print the API's JSON as it is")
}

// client checks the flags and returns a client for the API.
func (f *apiFlags) client() (*apiClient, error) {
	u, err := url.Parse(f.api)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError{fmt.Errorf("--api %q: want an http:// or https:// URL such as http://127.0.0.1:9090", f.api)}
	}
	token := f.token
	if token == "" {
		token = os.Getenv("HOOKTUNNEL_ADMIN_TOKEN")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &apiClient{base: u, token: token, http: &http.Client{Timeout: 60 * time.Second}}, nil
}

// where names the admin API the command asks, without a password in it.
func (f *apiFlags) where() string {
	if u, err := url.Parse(f.api); err == nil {
		return u.Redacted()
	}
	return f.api
}

// apiClient calls the admin API of docs/api.md.
type apiClient struct {
	base  *url.URL
	token string
	http  *http.Client
}

// apiError is an error answer of the API: {"error": code, "message": …}.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"error"`
	Message string `json:"message"`
	Hint    string `json:"-"`
}

func (e *apiError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Code
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	s := fmt.Sprintf("admin API: %s (HTTP %d", msg, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	s += ")"
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// maxAPIAnswer bounds what the client reads: a message with its body and
// response is a few MiB at most.
const maxAPIAnswer = 256 << 20

// call sends a request and returns the answer's body when the status is
// 2xx, an *apiError otherwise.
func (c *apiClient) call(ctx context.Context, method, path string, query url.Values) ([]byte, error) {
	return c.send(ctx, method, path, query, nil)
}

// send is call with a JSON body (nil for none).
func (c *apiClient) send(ctx context.Context, method, path string, query url.Values, jsonBody []byte) ([]byte, error) {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	var reqBody io.Reader
	if jsonBody != nil {
		reqBody = bytes.NewReader(jsonBody)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), reqBody)
	if err != nil {
		return nil, err
	}
	if jsonBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("cannot reach the admin API at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIAnswer))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s: %w", u.Redacted(), err)
	}
	if resp.StatusCode/100 != 2 {
		e := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(body, e) != nil || (e.Code == "" && e.Message == "") {
			e.Message = strings.TrimSpace(string(body))
			if len(e.Message) > 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				e.Message = ""
			}
		}
		if resp.StatusCode == http.StatusUnauthorized && c.token == "" {
			e.Hint = "pass --token or set HOOKTUNNEL_ADMIN_TOKEN"
		}
		return nil, e
	}
	return body, nil
}

// get is a listing's GET: the API's answer to decode and print, or, with
// --json, the answer printed as it is (then printed is true).
func (f *apiFlags) get(cmd *cobra.Command, path string, q url.Values) (body []byte, printed bool, err error) {
	c, err := f.client()
	if err != nil {
		return nil, false, err
	}
	if body, err = c.call(cmd.Context(), http.MethodGet, path, q); err != nil {
		return nil, false, err
	}
	if f.json {
		return nil, true, writeRaw(cmd.OutOrStdout(), body)
	}
	return body, false, nil
}

// message fetches one message of the journal: the API's answer as it came
// (for --json) and decoded.
func (c *apiClient) message(ctx context.Context, id string) ([]byte, *store.Message, error) {
	body, err := c.call(ctx, http.MethodGet, "/api/v1/messages/"+url.PathEscape(id), nil)
	if err != nil {
		return nil, nil, err
	}
	var m store.Message
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, nil, fmt.Errorf("the admin API answered with something else than a message: %w", err)
	}
	return body, &m, nil
}
