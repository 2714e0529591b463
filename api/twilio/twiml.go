package twilio

import (
	"encoding/xml"
	"net/http"
)

// TwiML, the XML Twilio runs: the few verbs we answer with. Text goes
// through encoding/xml, so a summary can never inject markup.

type response struct {
	XMLName xml.Name `xml:"Response"`
	Verbs   []any
}

type message struct {
	XMLName xml.Name `xml:"Message"`
	Body    string   `xml:",chardata"`
}

type say struct {
	XMLName  xml.Name `xml:"Say"`
	Language string   `xml:"language,attr,omitempty"`
	Text     string   `xml:",chardata"`
}

type gather struct {
	XMLName   xml.Name `xml:"Gather"`
	Input     string   `xml:"input,attr"`
	NumDigits int      `xml:"numDigits,attr"`
	Timeout   int      `xml:"timeout,attr"`
	Action    string   `xml:"action,attr"`
	Method    string   `xml:"method,attr"`
	Verbs     []any
}

type pause struct {
	XMLName xml.Name `xml:"Pause"`
	Length  int      `xml:"length,attr"`
}

type hangup struct {
	XMLName xml.Name `xml:"Hangup"`
}

// writeTwiML answers 200 with a TwiML document of verbs (an empty
// <Response/> says nothing).
func writeTwiML(w http.ResponseWriter, verbs ...any) {
	b, err := xml.Marshal(response{Verbs: verbs})
	if err != nil { // only our own types go in: cannot happen
		b = []byte("<Response></Response>")
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(b)
}

// speak is text read in English.
func speak(text string) say { return say{Language: "en-US", Text: text} }
