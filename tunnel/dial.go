package tunnel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/yamux"
)

// ConnectURL turns the edge's base URL (https://hooks.example.com) into the
// websocket URL agents dial.
func ConnectURL(edge string) (string, error) {
	u, err := url.Parse(edge)
	if err != nil {
		return "", fmt.Errorf("tunnel: edge URL %q: %w", edge, err)
	}
	switch u.Scheme {
	case "https", "wss":
		u.Scheme = "wss"
	case "http", "ws":
		u.Scheme = "ws"
	default:
		return "", fmt.Errorf("tunnel: edge URL %q must start with https:// or http://", edge)
	}
	if u.Host == "" {
		return "", fmt.Errorf("tunnel: edge URL %q has no host", edge)
	}
	u.Path = Path
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// Dial connects to the edge with hello.Token in the upgrade request's
// Authorization header, sends hello and waits for the Welcome. A refusal
// (a 401 to the upgrade included) is returned as a *Refusal error; an
// answer other than an upgrade as an *UpgradeError; anything else is a
// network or protocol error worth retrying. client may be nil.
func Dial(ctx context.Context, edge string, hello Hello, cfg Config, client *http.Client) (*Session, Welcome, error) {
	var welcome Welcome
	if err := VerifyConfig(cfg); err != nil {
		return nil, welcome, err
	}
	wsURL, err := ConnectURL(edge)
	if err != nil {
		return nil, welcome, err
	}
	dialCtx, cancel := context.WithTimeout(ctx, cfg.HandshakeTimeout)
	defer cancel()
	if !ValidToken(hello.Token) {
		return nil, welcome, ErrInvalidToken
	}
	ws, resp, err := websocket.Dial(dialCtx, wsURL, &websocket.DialOptions{
		HTTPClient:      client,
		HTTPHeader:      http.Header{"Authorization": {"Bearer " + hello.Token}},
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		switch {
		case resp != nil && resp.StatusCode == http.StatusUnauthorized:
			return nil, welcome, &Refusal{Code: RefusedBadToken, Message: badTokenMessage, Permanent: true}
		case resp != nil && resp.StatusCode != http.StatusSwitchingProtocols:
			return nil, welcome, &UpgradeError{URL: wsURL, Status: resp.Status, StatusCode: resp.StatusCode, Code: answerCode(resp)}
		}
		return nil, welcome, fmt.Errorf("tunnel: dial %s: %w", wsURL, err)
	}
	// The session outlives Dial's ctx only through its own Close.
	conn := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	mux, err := yamux.Client(newBatchingConn(conn), cfg.yamux())
	if err != nil {
		conn.Close()
		return nil, welcome, err
	}
	ctl, err := mux.OpenStream()
	if err != nil {
		mux.Close()
		return nil, welcome, fmt.Errorf("tunnel: open control stream: %w", err)
	}
	s := newSession(mux, ctl)
	deadline := time.Now().Add(cfg.HandshakeTimeout)
	hello.Protocol = ProtocolVersion
	if err := writeJSON(ctl, hello, deadline); err != nil {
		mux.Close()
		return nil, welcome, fmt.Errorf("tunnel: send hello: %w", err)
	}
	_ = ctl.SetReadDeadline(deadline)
	line, err := readLine(s.reader)
	if err != nil {
		mux.Close()
		return nil, welcome, fmt.Errorf("tunnel: read welcome: %w", err)
	}
	_ = ctl.SetReadDeadline(time.Time{})
	if err := json.Unmarshal(line, &welcome); err != nil {
		mux.Close()
		return nil, welcome, fmt.Errorf("tunnel: welcome is not valid JSON: %w", err)
	}
	if welcome.Refusal != nil {
		mux.Close()
		return nil, welcome, welcome.Refusal
	}
	go s.ServeControl(Control{})
	return s, welcome, nil
}

// UpgradeError is an answer other than 101 (and 401) to the websocket
// upgrade: the URL is not a hooktunnel edge, or something in front of it
// does not pass upgrades on. Retrying may help (an edge restarting behind
// a proxy answers 502 for a moment).
type UpgradeError struct {
	URL        string
	Status     string
	StatusCode int
	// Code is the error code of a hooktunnel JSON answer ({"error":
	// "no_route", …}): a hooktunnel listener answered, but not the agent
	// endpoint. "" for any other answer.
	Code string
}

func (e *UpgradeError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("tunnel: %s answered %s (%s)", e.URL, e.Status, e.Code)
	}
	return fmt.Sprintf("tunnel: %s answered %s: is it a hooktunnel edge?", e.URL, e.Status)
}

// maxCodeLen bounds the error code read from an answer.
const maxCodeLen = 64

// answerCode is the "error" field of a JSON answer (the edge's refusals),
// if it looks like a code: lowercase letters, digits and '_'. The body is
// whatever the server sent; websocket.Dial keeps at most 1 KiB of it.
func answerCode(resp *http.Response) string {
	if resp.Body == nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return ""
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	return parseAnswerCode(body)
}

func parseAnswerCode(body []byte) string {
	var answer struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &answer) != nil || len(answer.Error) > maxCodeLen {
		return ""
	}
	for _, c := range answer.Error {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return ""
		}
	}
	return answer.Error
}

// IsPermanent reports whether err is a refusal, or a token, that retrying
// cannot fix.
func IsPermanent(err error) bool {
	var r *Refusal
	return errors.As(err, &r) && r.Permanent || errors.Is(err, ErrInvalidToken)
}

// IsUpgrade reports whether r asks to open an agent session.
func IsUpgrade(r *http.Request) bool {
	return r.URL.Path == Path && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}
