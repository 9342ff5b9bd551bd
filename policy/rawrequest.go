package policy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// ErrMalformedRequest is returned by ParseRawRequest for bytes that are
// not one complete HTTP/1.x request.
var ErrMalformedRequest = errors.New("policy: not one well-formed HTTP request")

// ParseRawRequest reads one HTTP/1.x request as it crossed the wire
// (request line, headers, blank line, body) into the Request policy sees,
// so a captured delivery can be checked offline by the code the edge runs.
//
// The head may end its lines with CRLF or, as some capture tools save it,
// a bare LF; chunk framing must use CRLF, as net/http requires. The body
// is exactly Content-Length bytes, or the decoded chunks; anything after
// it is an error, since a capture holds one request.
//
// The Request's URL is publicURL when it is given: schemes that sign the
// URL (Twilio, Square, HubSpot) need the one the provider called. Without
// it the URL is https://<Host header><request-target>, or the scheme and
// host of an absolute-form request-target.
//
// Errors for bad input wrap ErrMalformedRequest and are *Refusal values
// whose message says what is wrong; an unusable publicURL is a plain error.
func ParseRawRequest(data []byte, publicURL string) (*Request, error) {
	var public *url.URL
	if publicURL != "" {
		u, err := ParsePublicURL(publicURL)
		if err != nil {
			return nil, err
		}
		public = u
	}
	rd := bytes.NewReader(data)
	br := bufio.NewReader(rd)
	hr, err := http.ReadRequest(br)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, refuse(ErrMalformedRequest, "the input is empty or ends before the blank line after the headers")
		}
		return nil, refuse(ErrMalformedRequest, "not an HTTP/1.x request: "+err.Error())
	}
	body, err := io.ReadAll(hr.Body)
	if err != nil {
		return nil, bodyError(hr, len(body), err)
	}
	// What follows the body is in the buffer, or still in rd when large
	// reads bypassed the buffer.
	if extra := br.Buffered() + rd.Len(); extra > 0 {
		return nil, trailingError(hr, extra)
	}
	u, err := requestURL(hr, public)
	if err != nil {
		return nil, err
	}
	return &Request{Method: hr.Method, URL: u, Header: hr.Header, Body: body}, nil
}

// ParsePublicURL checks a URL given as the one a provider called: absolute,
// http or https, with a host. An empty path becomes "/", the path the
// request then has.
func ParsePublicURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL: %w", s, errors.Unwrap(err))
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL with a host, like https://demo.hooks.example.com/webhook", s)
	}
	if u.Path == "" {
		u.Path, u.RawPath = "/", ""
	}
	return u, nil
}

// requestURL is the public URL if given, else the one the request names.
func requestURL(hr *http.Request, public *url.URL) (*url.URL, error) {
	if hr.URL.Path == "" {
		// CONNECT's authority-form, or an opaque URL, has no path for a
		// route to match.
		return nil, refuse(ErrMalformedRequest, "request-target "+quoteShort(hr.RequestURI)+" is not a path")
	}
	if public != nil {
		u := *public
		return &u, nil
	}
	if hr.Host == "" {
		return nil, refuse(ErrMalformedRequest, "the request has no Host header, so its URL is unknown; give the public URL the provider called")
	}
	// As the edge builds it (edge/handler.go policyRequest).
	u := &url.URL{Scheme: "https", Host: hr.Host, Path: hr.URL.Path, RawPath: hr.URL.RawPath, RawQuery: hr.URL.RawQuery}
	switch hr.URL.Scheme { // absolute-form: its scheme and host win
	case "":
	case "http", "https":
		u.Scheme = hr.URL.Scheme
	default:
		return nil, refuse(ErrMalformedRequest, "request-target "+quoteShort(hr.RequestURI)+" is not an http or https URL")
	}
	return u, nil
}

// bodyError explains a body that could not be read in full.
func bodyError(hr *http.Request, got int, err error) error {
	if len(hr.TransferEncoding) > 0 {
		return refuse(ErrMalformedRequest, "the chunked body is not well formed ("+err.Error()+"); chunk sizes and their line ends must be intact (CRLF)")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return refuse(ErrMalformedRequest, fmt.Sprintf("the body is %d bytes, shorter than its Content-Length of %d; the capture was cut off or its line endings were changed", got, hr.ContentLength))
	}
	return refuse(ErrMalformedRequest, "reading the body: "+err.Error())
}

// trailingError explains bytes after the end of the request.
func trailingError(hr *http.Request, extra int) error {
	switch {
	case len(hr.TransferEncoding) > 0:
		return refuse(ErrMalformedRequest, fmt.Sprintf("%d bytes follow the last chunk; the input must hold one request", extra))
	case hr.Header.Get("Content-Length") != "":
		return refuse(ErrMalformedRequest, fmt.Sprintf("%d bytes follow the body of Content-Length %d; the input must hold one request, and an editor may have added a final newline", extra, hr.ContentLength))
	}
	return refuse(ErrMalformedRequest, strconv.Itoa(extra)+" bytes follow the headers, but the request has no Content-Length or chunked body; add Content-Length")
}
