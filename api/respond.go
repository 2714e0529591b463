package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// MaxBody is the largest request body any endpoint reads.
const MaxBody = 1 << 20

// Error is the JSON error body of CONTRACT.md §4.
type Error struct {
	Error   string   `json:"error"`
	Details []string `json:"details,omitempty"`
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes {"error": msg, "details": details} with the given status.
func WriteError(w http.ResponseWriter, status int, msg string, details ...string) {
	WriteJSON(w, status, Error{Error: msg, Details: details})
}

// ReadBody reads the whole request body within MaxBody. When it fails it has
// already answered (413 for too large, 400 otherwise) and returns ok=false.
func ReadBody(w http.ResponseWriter, r *http.Request) (body []byte, ok bool) {
	body, err := io.ReadAll(r.Body)
	if err == nil {
		return body, true
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		WriteError(w, http.StatusRequestEntityTooLarge, "request body is larger than 1 MiB")
	} else {
		WriteError(w, http.StatusBadRequest, "could not read request body")
	}
	return nil, false
}
