package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Bundle is what a set of manifest files says: the objects (Set) and every
// problem found while reading them (Errors, sorted). Positions of objects and
// of their references are kept on the side, for Check and Errorf.
type Bundle struct {
	Set    *Set
	Errors Errors // parse errors; Check adds the reference errors

	objects      map[objKey]pos // where each object's name is written
	integrations map[string]pos // where each integration's name is written
	refs         []ref          // every reference to another object
}

type objKey struct{ kind, name string }

// ref is a reference from one object to another, at the position of the
// name that refers.
type ref struct {
	kind, name string
	key        string // the referring key, for the message
	at         pos
}

// Load reads manifests from files and directories (every *.yaml and *.yml
// directly in a directory, sorted by name). The error is for I/O only (a
// path that cannot be read, a directory without manifests); problems in the
// files are in the Bundle's Errors, and Check adds reference errors.
func Load(paths ...string) (*Bundle, error) {
	return load(osSource{}, paths)
}

// LoadFS is Load over a file system (e.g. fstest.MapFS of Marshal's
// output); paths are fs.FS paths ("." for the root directory).
func LoadFS(fsys fs.FS, paths ...string) (*Bundle, error) {
	return load(fsSource{fsys}, paths)
}

// Parse reads one file's contents. An `ical` file is read from the
// operating system, relative to file's directory.
func Parse(file string, data []byte) *Bundle {
	p := newParser(osSource{})
	p.parseFile(file, data)
	return p.finish()
}

// Errorf is an Error at the position of an object's name, for problems
// found after parsing (e.g. by apply). Unknown objects get no position.
func (b *Bundle) Errorf(kind, name string, format string, args ...any) Error {
	at := b.objects[objKey{kind, name}]
	return at.errorf(format, args...)
}

// source is where files come from: the operating system or an fs.FS.
type source interface {
	stat(name string) (isDir bool, err error)
	readDir(name string) ([]string, error) // names of regular files, any order
	readFile(name string) ([]byte, error)
	resolve(file, rel string) (string, error) // rel, relative to file's directory
	join(dir, name string) string
}

type osSource struct{}

func (osSource) stat(name string) (bool, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return false, err
	}
	return fi.IsDir(), nil
}

func (osSource) readDir(name string) ([]string, error) {
	ents, err := os.ReadDir(name)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0 {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

func (osSource) readFile(name string) ([]byte, error) { return os.ReadFile(name) }

func (osSource) resolve(file, rel string) (string, error) {
	if filepath.IsAbs(rel) {
		return rel, nil
	}
	return filepath.Join(filepath.Dir(file), filepath.FromSlash(rel)), nil
}

func (osSource) join(dir, name string) string { return filepath.Join(dir, name) }

type fsSource struct{ fsys fs.FS }

func (s fsSource) stat(name string) (bool, error) {
	fi, err := fs.Stat(s.fsys, name)
	if err != nil {
		return false, err
	}
	return fi.IsDir(), nil
}

func (s fsSource) readDir(name string) ([]string, error) {
	ents, err := fs.ReadDir(s.fsys, name)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

func (s fsSource) readFile(name string) ([]byte, error) { return fs.ReadFile(s.fsys, name) }

func (fsSource) resolve(file, rel string) (string, error) {
	p := path.Join(path.Dir(file), rel)
	if path.IsAbs(rel) || !fs.ValidPath(p) {
		return "", fs.ErrNotExist
	}
	return p, nil
}

func (fsSource) join(dir, name string) string { return path.Join(dir, name) }

func load(src source, paths []string) (*Bundle, error) {
	var files []string
	seen := map[string]bool{}
	for _, p := range paths {
		isDir, err := src.stat(p)
		if err != nil {
			return nil, fmt.Errorf("read manifests: %w", err)
		}
		if !isDir {
			if !seen[p] {
				seen[p] = true
				files = append(files, p)
			}
			continue
		}
		names, err := src.readDir(p)
		if err != nil {
			return nil, fmt.Errorf("read manifests: %w", err)
		}
		sort.Strings(names)
		n := 0
		for _, name := range names {
			if !strings.HasSuffix(name, ".yaml") && !strings.HasSuffix(name, ".yml") {
				continue
			}
			n++
			f := src.join(p, name)
			if !seen[f] {
				seen[f] = true
				files = append(files, f)
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("read manifests: no *.yaml or *.yml files in %s", p)
		}
	}
	pr := newParser(src)
	for _, f := range files {
		data, err := src.readFile(f)
		if err != nil {
			return nil, fmt.Errorf("read manifests: %w", err)
		}
		pr.parseFile(f, data)
	}
	return pr.finish(), nil
}

// parser reads files into one Bundle.
type parser struct {
	src    source
	b      *Bundle
	file   string
	visits int // nodes visited in this document (aliases can multiply them)
}

// maxVisits bounds the work on one document: aliases can expand a small
// document into a huge tree. Anchors do not cross documents, so a file of
// many documents (one object each, as exports are) is bounded per document.
const maxVisits = 200_000

// errTooBig aborts a file that expands past maxVisits.
var errTooBig = errors.New("too big")

func newParser(src source) *parser {
	return &parser{
		src: src,
		b: &Bundle{
			Set:          &Set{},
			objects:      map[objKey]pos{},
			integrations: map[string]pos{},
		},
	}
}

func (p *parser) finish() *Bundle {
	p.b.Set.Normalize()
	p.b.Errors.Sort()
	return p.b
}

var yamlLineRE = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

func (p *parser) parseFile(file string, data []byte) {
	p.file = file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := decode(dec, &doc)
		if err == io.EOF {
			return
		}
		if err != nil {
			line, msg := 1, strings.TrimPrefix(err.Error(), "yaml: ")
			if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
				fmt.Sscan(m[1], &line)
				msg = m[2]
			}
			p.b.Errors = append(p.b.Errors, Error{File: file, Line: line, Col: 1, Msg: "invalid YAML: " + msg})
			return
		}
		if !p.document(&doc) {
			return
		}
	}
}

// decode reads one document, turning a panic of the YAML library into an
// error: a manifest must never crash its reader.
func decode(dec *yaml.Decoder, doc *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return dec.Decode(doc)
}

// document reads one document; false when the file must be abandoned.
func (p *parser) document(doc *yaml.Node) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			if r != errTooBig { //nolint:errorlint // sentinel panic value
				panic(r)
			}
			p.errorf(doc, "document too large: over %d nodes once its aliases are expanded", maxVisits)
			ok = false
		}
	}()
	p.visits = 0
	n := doc
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return true
		}
		n = n.Content[0]
	}
	n = p.deref(n)
	if isNull(n) {
		return true // an empty document
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "expected a mapping with kind and name, got %s", typeName(n))
		return true
	}
	var kind *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := p.deref(n.Content[i]); k.Kind == yaml.ScalarNode && k.Value == "kind" {
			kind = p.deref(n.Content[i+1])
		}
	}
	switch {
	case isNull(kind) || kind.Kind == yaml.ScalarNode && kind.Value == "":
		p.errorf(n, `missing required key "kind"`)
		return true
	case kind.Kind != yaml.ScalarNode:
		p.errorf(kind, "kind: expected a string, got %s", typeName(kind))
		return true
	}
	switch kind.Value {
	case KindUser:
		p.user(n)
	case KindTeam:
		p.team(n)
	case KindHolidays:
		p.holidays(n)
	case KindSchedule:
		p.schedule(n)
	case KindEscalationPolicy:
		p.policy(n)
	case KindService:
		p.service(n)
	case KindAlertRule:
		p.alertRule(n)
	default:
		hint := didYouMean(kind.Value, Kinds)
		if hint == "" {
			hint = " (use " + strings.Join(Kinds, ", ") + ")"
		}
		p.errorf(kind, "unknown kind %q%s", kind.Value, hint)
	}
	return true
}

// deref follows aliases and counts the visit.
func (p *parser) deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		p.visits++
		n = n.Alias
	}
	p.visits++
	if p.visits > maxVisits {
		panic(errTooBig)
	}
	return n
}

func (p *parser) at(n *yaml.Node) pos {
	return pos{file: p.file, line: n.Line, col: n.Column}
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.b.Errors = append(p.b.Errors, p.at(n).errorf(format, args...))
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func typeName(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// mapping is a YAML mapping checked against the keys it may hold.
type mapping struct {
	p    *parser
	n    *yaml.Node
	what string // the object it describes, for messages ("Team", "layer")
	vals map[string]*yaml.Node
	keys map[string]*yaml.Node

	unknown int // how many keys were unknown
}

// mapping checks that n is a mapping whose keys are all allowed, reporting
// unknown and repeated keys. It returns nil (after reporting) when n is not
// a mapping; key names the value for that message.
func (p *parser) mapping(n *yaml.Node, key, what string, allowed ...string) *mapping {
	n = p.deref(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%sexpected a mapping, got %s", prefix(key), typeName(n))
		return nil
	}
	m := &mapping{p: p, n: n, what: what, vals: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := p.deref(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "keys must be strings, got %s", typeName(k))
			continue
		}
		if !contains(allowed, k.Value) {
			p.errorf(k, "unknown key %q in %s%s", k.Value, what, didYouMean(k.Value, allowed))
			m.unknown++
			continue
		}
		if first, dup := m.keys[k.Value]; dup {
			p.errorf(k, "duplicate key %q (first at %s)", k.Value, p.at(first))
			continue
		}
		m.keys[k.Value] = k
		m.vals[k.Value] = n.Content[i+1]
	}
	return m
}

func prefix(key string) string {
	if key == "" {
		return ""
	}
	return key + ": "
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// get is the value of key, nil when absent or null.
func (m *mapping) get(key string) *yaml.Node {
	v, ok := m.vals[key]
	if !ok {
		return nil
	}
	v = m.p.deref(v)
	if isNull(v) {
		return nil
	}
	return v
}

func (m *mapping) missing(key string) {
	m.p.errorf(m.n, "missing required key %q in %s", key, m.what)
}

// str is an optional string; n is nil when absent, empty or not a string
// (reported).
func (m *mapping) str(key string) (string, *yaml.Node) {
	v := m.get(key)
	if v == nil {
		return "", nil
	}
	if v.Kind != yaml.ScalarNode {
		m.p.errorf(v, "%s: expected a string, got %s", key, typeName(v))
		return "", nil
	}
	if v.Value == "" {
		return "", nil
	}
	return v.Value, v
}

// reqStr is a required string; n is nil when absent (reported) or invalid.
func (m *mapping) reqStr(key string) (string, *yaml.Node) {
	if v := m.get(key); v == nil || v.Kind == yaml.ScalarNode && v.Value == "" {
		m.missing(key)
		return "", nil
	}
	return m.str(key)
}

// list is an optional list; nil when absent or not a list (reported).
func (m *mapping) list(key string) []*yaml.Node {
	v := m.get(key)
	if v == nil {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		m.p.errorf(v, "%s: expected a list, got %s", key, typeName(v))
		return nil
	}
	items := make([]*yaml.Node, len(v.Content))
	for i, it := range v.Content {
		items[i] = m.p.deref(it)
	}
	return items
}

// reqList is a required list of at least one item.
func (m *mapping) reqList(key string) []*yaml.Node {
	v := m.get(key)
	if v == nil {
		m.missing(key)
		return nil
	}
	if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
		m.p.errorf(v, "%s: must not be empty", key)
		return nil
	}
	return m.list(key)
}

// item is one string of a list, with its node.
type item struct {
	s string
	n *yaml.Node
}

// strs is an optional list of strings; a non-string item is reported and
// left out. single allows a lone string for a one-item list.
func (m *mapping) strs(key string, single bool) []item {
	v := m.get(key)
	if v == nil {
		return nil
	}
	if single && v.Kind == yaml.ScalarNode {
		return []item{{v.Value, v}}
	}
	return m.toStrs(key, m.list(key))
}

// reqStrs is a required list of at least one string.
func (m *mapping) reqStrs(key string) []item {
	return m.toStrs(key, m.reqList(key))
}

func (m *mapping) toStrs(key string, nodes []*yaml.Node) []item {
	var out []item
	for _, it := range nodes {
		if it.Kind != yaml.ScalarNode || isNull(it) {
			m.p.errorf(it, "%s: expected a string, got %s", key, typeName(it))
			continue
		}
		out = append(out, item{it.Value, it})
	}
	return out
}

// names is an optional list of object names, each valid and listed once.
func (m *mapping) names(key string) []item {
	var out []item
	seen := map[string]bool{}
	for _, it := range m.strs(key, false) {
		if !m.p.checkName(key, it) {
			continue
		}
		if seen[it.s] {
			m.p.errorf(it.n, "%s: %q is listed twice", key, it.s)
			continue
		}
		seen[it.s] = true
		out = append(out, it)
	}
	return out
}

func (p *parser) checkName(key string, it item) bool {
	if !validName(it.s) {
		p.errorf(it.n, "%s: invalid name %q (use lowercase letters, digits, '.', '_' and '-', starting with a letter or digit)", key, it.s)
		return false
	}
	return true
}

// ref records a reference to an object of a kind, checked by Check.
func (p *parser) ref(kind, key string, it item) {
	p.b.refs = append(p.b.refs, ref{kind: kind, name: it.s, key: key, at: p.at(it.n)})
}

// objectName reads and checks a document's name.
func (p *parser) objectName(m *mapping) (item, bool) {
	s, n := m.reqStr("name")
	if n == nil {
		return item{}, false
	}
	it := item{s, n}
	return it, p.checkName("name", it)
}

// define registers an object's name; false (reported) when the kind
// already has it.
func (p *parser) define(kind string, it item) bool {
	k := objKey{kind, it.s}
	if first, dup := p.b.objects[k]; dup {
		p.errorf(it.n, "duplicate %s %q (first defined at %s)", kind, it.s, first)
		return false
	}
	p.b.objects[k] = p.at(it.n)
	return true
}
