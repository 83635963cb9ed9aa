// Package policy decides who may do what to an image: named rules written
// in a small check language (oslo.policy's), Glance's secure-RBAC defaults
// (Defaults), and operator overrides.
//
// A check string is made of checks joined by `and`, `or` and `not`
// (that precedence, tightest first), with parentheses:
//
//	@                      always allowed ("" too)
//	!                      never allowed
//	role:NAME              the caller has role NAME (case-insensitive)
//	rule:NAME              the rule NAME holds
//	project_id:%(KEY)s     the caller's project equals the target's KEY
//	user_id:VALUE          the caller's user id (VALUE literal or %(KEY)s)
//	is_admin:True          the caller's is_admin flag
//	'LITERAL':%(KEY)s      the target's KEY equals LITERAL
//
// Target keys are project_id and owner (the image's owner), visibility,
// status, image_id, member_id and member_status (see Target).
package policy

import (
	"fmt"
	"sort"
	"strings"
)

// Credentials are the caller's.
type Credentials struct {
	UserID    string
	ProjectID string
	Roles     []string
	IsAdmin   bool
}

// Target is what a rule is checked against, by key: TargetKeys.
type Target map[string]string

// TargetKeys are the keys a check may substitute with %(key)s.
var TargetKeys = []string{"project_id", "owner", "visibility", "status", "image_id", "member_id", "member_status"}

// credentialKinds are the caller attributes a generic check compares.
var credentialKinds = []string{"project_id", "user_id", "is_admin"}

// Enforcer evaluates named rules. Its zero value is not usable: use New or
// Default. It is safe for concurrent use.
type Enforcer struct {
	rules map[string]node
	src   map[string]string
}

var defaultEnforcer = func() *Enforcer {
	e, err := New(nil)
	if err != nil {
		panic("policy: defaults: " + err.Error())
	}
	return e
}()

// Default returns the enforcer of the default rules.
func Default() *Enforcer { return defaultEnforcer }

// Known reports whether name is a rule (one of Defaults).
func Known(name string) bool {
	for _, r := range Defaults {
		if r.Name == name {
			return true
		}
	}
	return false
}

// Error is a rule that cannot be used.
type Error struct {
	Rule string // the rule's name
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("policy rule %q: %s", e.Rule, e.Msg) }

// New returns an enforcer of the defaults with overrides (rule name →
// check string) replacing them. An unknown rule name, an unparseable check
// string, a reference to an unknown rule or a cycle of references gives an
// *Error naming the offending rule; with several, the first by name.
func New(overrides map[string]string) (*Enforcer, error) {
	e := &Enforcer{rules: map[string]node{}, src: map[string]string{}}
	for _, r := range Defaults {
		e.src[r.Name] = r.Check
	}
	names := make([]string, 0, len(overrides))
	for name := range overrides {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !Known(name) {
			return nil, &Error{Rule: name, Msg: "unknown rule name"}
		}
		e.src[name] = overrides[name]
	}
	all := make([]string, 0, len(e.src))
	for name := range e.src {
		all = append(all, name)
	}
	sort.Strings(all)
	for _, name := range all {
		n, err := parse(e.src[name])
		if err != nil {
			return nil, &Error{Rule: name, Msg: err.Error()}
		}
		e.rules[name] = n
	}
	for _, name := range all {
		if err := e.checkRefs(name, e.rules[name], map[string]bool{name: true}); err != nil {
			return nil, &Error{Rule: name, Msg: err.Error()}
		}
	}
	return e, nil
}

// checkRefs fails on a rule:X to an unknown rule or back to a rule on path.
func (e *Enforcer) checkRefs(top string, n node, path map[string]bool) error {
	var err error
	walk(n, func(ref string) {
		if err != nil {
			return
		}
		sub, ok := e.rules[ref]
		switch {
		case !ok:
			err = fmt.Errorf("rule:%s refers to an unknown rule", ref)
		case path[ref]:
			err = fmt.Errorf("rule:%s makes a cycle of rule references", ref)
		default:
			path[ref] = true
			err = e.checkRefs(top, sub, path)
			delete(path, ref)
		}
	})
	return err
}

// Check returns rule's check string in force.
func (e *Enforcer) Check(rule string) (string, bool) {
	s, ok := e.src[rule]
	return s, ok
}

// Allowed evaluates rule for the caller c on target t. An unknown rule is
// refused.
func (e *Enforcer) Allowed(rule string, c Credentials, t Target) bool {
	n, ok := e.rules[rule]
	if !ok {
		return false
	}
	return n.eval(&evalCtx{e: e, c: c, t: t})
}

type evalCtx struct {
	e *Enforcer
	c Credentials
	t Target
}

// node is a parsed check string.
type node interface {
	eval(*evalCtx) bool
}

type (
	constNode bool
	notNode   struct{ x node }
	andNode   []node
	orNode    []node
	ruleNode  string
	roleNode  struct{ match string }
	// genericNode compares a caller attribute (kind) or a literal with
	// match, after substitution from the target.
	genericNode struct {
		kind    string
		literal bool
		match   string
	}
)

func (n constNode) eval(*evalCtx) bool  { return bool(n) }
func (n notNode) eval(c *evalCtx) bool  { return !n.x.eval(c) }
func (n ruleNode) eval(c *evalCtx) bool { r := c.e.rules[string(n)]; return r != nil && r.eval(c) }
func (n andNode) eval(c *evalCtx) bool {
	for _, x := range n {
		if !x.eval(c) {
			return false
		}
	}
	return true
}
func (n orNode) eval(c *evalCtx) bool {
	for _, x := range n {
		if x.eval(c) {
			return true
		}
	}
	return false
}

func (n roleNode) eval(c *evalCtx) bool {
	want, ok := substitute(n.match, c.t)
	if !ok {
		return false
	}
	for _, r := range c.c.Roles {
		if strings.EqualFold(r, want) {
			return true
		}
	}
	return false
}

func (n genericNode) eval(c *evalCtx) bool {
	match, ok := substitute(n.match, c.t)
	if !ok {
		return false
	}
	if n.literal {
		return n.kind == match
	}
	switch n.kind {
	case "project_id":
		return c.c.ProjectID != "" && c.c.ProjectID == match
	case "user_id":
		return c.c.UserID != "" && c.c.UserID == match
	case "is_admin":
		return strings.EqualFold(fmt.Sprint(c.c.IsAdmin), match)
	}
	return false
}

// substitute replaces a %(key)s match by the target's value; a missing or
// empty value fails the check (oslo.policy fails on a missing key, and an
// empty project never matches).
func substitute(match string, t Target) (string, bool) {
	key, ok := targetRef(match)
	if !ok {
		return match, true
	}
	v := t[key]
	return v, v != ""
}

// targetRef returns KEY of a match of the form %(KEY)s.
func targetRef(match string) (string, bool) {
	if strings.HasPrefix(match, "%(") && strings.HasSuffix(match, ")s") && len(match) > 4 {
		return match[2 : len(match)-2], true
	}
	return "", false
}

// walk calls f with every rule:X reference of n.
func walk(n node, f func(string)) {
	switch n := n.(type) {
	case ruleNode:
		f(string(n))
	case notNode:
		walk(n.x, f)
	case andNode:
		for _, x := range n {
			walk(x, f)
		}
	case orNode:
		for _, x := range n {
			walk(x, f)
		}
	}
}

// Validate reports whether a check string parses; rule references are
// not resolved (New does that).
func Validate(check string) error {
	_, err := parse(check)
	return err
}

// parse parses a check string.
func parse(s string) (node, error) {
	toks := tokenize(s)
	if len(toks) == 0 {
		return constNode(true), nil
	}
	p := &parser{toks: toks}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	return n, nil
}

// tokenize splits on white space and separates leading "(" and trailing
// ")" (as oslo.policy does; a %(key)s reference ends in "s").
func tokenize(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		for strings.HasPrefix(f, "(") {
			out = append(out, "(")
			f = f[1:]
		}
		closing := 0
		for strings.HasSuffix(f, ")") {
			closing++
			f = f[:len(f)-1]
		}
		if f != "" {
			out = append(out, f)
		}
		for ; closing > 0; closing-- {
			out = append(out, ")")
		}
	}
	return out
}

type parser struct {
	toks []string
	pos  int
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *parser) or() (node, error) {
	var xs orNode
	for {
		x, err := p.and()
		if err != nil {
			return nil, err
		}
		xs = append(xs, x)
		if !strings.EqualFold(p.peek(), "or") {
			break
		}
		p.pos++
	}
	if len(xs) == 1 {
		return xs[0], nil
	}
	return xs, nil
}

func (p *parser) and() (node, error) {
	var xs andNode
	for {
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		xs = append(xs, x)
		if !strings.EqualFold(p.peek(), "and") {
			break
		}
		p.pos++
	}
	if len(xs) == 1 {
		return xs[0], nil
	}
	return xs, nil
}

func (p *parser) not() (node, error) {
	if strings.EqualFold(p.peek(), "not") {
		p.pos++
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	}
	return p.atom()
}

func (p *parser) atom() (node, error) {
	t := p.peek()
	switch {
	case t == "":
		return nil, fmt.Errorf("unexpected end of the check string")
	case t == "(":
		p.pos++
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.pos++
		return x, nil
	case t == ")" || strings.EqualFold(t, "and") || strings.EqualFold(t, "or"):
		return nil, fmt.Errorf("unexpected %q", t)
	}
	p.pos++
	return parseCheck(t)
}

// parseCheck parses one check: @, !, or KIND:MATCH.
func parseCheck(t string) (node, error) {
	switch t {
	case "@":
		return constNode(true), nil
	case "!":
		return constNode(false), nil
	}
	kind, match, ok := strings.Cut(t, ":")
	if !ok || kind == "" || match == "" {
		return nil, fmt.Errorf("invalid check %q: want @, !, or kind:match", t)
	}
	if key, ok := targetRef(match); ok && !contains(TargetKeys, key) {
		return nil, fmt.Errorf("invalid check %q: unknown target key %q (known: %s)", t, key, strings.Join(TargetKeys, ", "))
	} else if !ok && strings.Contains(match, "%(") {
		return nil, fmt.Errorf("invalid check %q: a substitution must be the whole match, %%(key)s", t)
	}
	switch {
	case kind == "rule":
		return ruleNode(match), nil
	case kind == "role":
		return roleNode{match: match}, nil
	case len(kind) >= 2 && (kind[0] == '\'' || kind[0] == '"') && kind[len(kind)-1] == kind[0]:
		return genericNode{kind: kind[1 : len(kind)-1], literal: true, match: match}, nil
	case contains(credentialKinds, kind):
		return genericNode{kind: kind, match: match}, nil
	}
	return nil, fmt.Errorf("invalid check %q: unknown kind %q (known: rule, role, %s, or a quoted literal)", t, kind, strings.Join(credentialKinds, ", "))
}

func contains(set []string, s string) bool {
	for _, x := range set {
		if x == s {
			return true
		}
	}
	return false
}
