package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		check string
		err   string // "" when valid
	}{
		{"", ""},
		{"@", ""},
		{"!", ""},
		{"role:admin", ""},
		{"role:admin or role:member", ""},
		{"role:admin or (role:member and project_id:%(project_id)s)", ""},
		{"(role:a or role:b) and not role:c", ""},
		{"not not @", ""},
		{"((role:a))", ""},
		{"'public':%(visibility)s", ""},
		{`"shared":%(visibility)s`, ""},
		{"is_admin:True", ""},
		{"user_id:bob", ""},
		{"rule:context_is_admin", ""},
		{"role:%(member_id)s", ""},
		{"role:admin or", "unexpected end"},
		{"and role:admin", `unexpected "and"`},
		{"(role:admin", "missing )"},
		{"role:admin)", `unexpected ")"`},
		{"role:admin role:member", `unexpected "role:member"`},
		{"admin", "want @, !, or kind:match"},
		{"role:", "want @, !, or kind:match"},
		{"tenant:x", `unknown kind "tenant"`},
		{"project_id:%(tenant)s", `unknown target key "tenant"`},
		{"project_id:x%(owner)s", "substitution must be the whole match"},
		{"not", "unexpected end"},
	} {
		err := Validate(tc.check)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.check, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one containing %q", tc.check, err, tc.err)
		}
	}
}

func TestEvaluate(t *testing.T) {
	admin := Credentials{ProjectID: "adm", Roles: []string{"admin", "member", "reader"}, IsAdmin: true}
	member := Credentials{UserID: "alice", ProjectID: "p1", Roles: []string{"member", "reader"}}
	target := Target{"project_id": "p1", "owner": "p1", "visibility": "public", "member_id": ""}
	for _, tc := range []struct {
		check string
		creds Credentials
		want  bool
	}{
		{"", member, true},
		{"@", member, true},
		{"!", admin, false},
		{"role:admin", admin, true},
		{"role:ADMIN", admin, true},
		{"role:admin", member, false},
		{"not role:admin", member, true},
		{"role:member and project_id:%(project_id)s", member, true},
		{"role:member and project_id:%(project_id)s", Credentials{ProjectID: "p2", Roles: []string{"member"}}, false},
		{"project_id:%(member_id)s", member, false}, // empty target value never matches
		{"project_id:%(member_id)s", Credentials{}, false},
		{"'public':%(visibility)s", member, true},
		{"'shared':%(visibility)s", member, false},
		{"is_admin:True", admin, true},
		{"is_admin:True", member, false},
		{"user_id:alice", member, true},
		{"role:reader or role:member and !", member, true}, // and binds tighter
		{"(role:reader or role:member) and !", member, false},
		{"rule:context_is_admin", admin, true},
		{"rule:context_is_admin", member, false},
	} {
		e, err := New(map[string]string{"default": tc.check})
		if err != nil {
			t.Errorf("%q: %v", tc.check, err)
			continue
		}
		if got := e.Allowed("default", tc.creds, target); got != tc.want {
			t.Errorf("%q for %+v: %v, want %v", tc.check, tc.creds, got, tc.want)
		}
	}
}

// TestDefaults checks the defaults table against the rbac reference:
// rule × caller → allowed, on an image of project "own".
func TestDefaults(t *testing.T) {
	callers := map[string]Credentials{
		"admin":       {ProjectID: "adm", Roles: []string{"admin", "member", "reader"}, IsAdmin: true},
		"owner":       {ProjectID: "own", Roles: []string{"member", "reader"}},
		"ownerReader": {ProjectID: "own", Roles: []string{"reader"}},
		"other":       {ProjectID: "oth", Roles: []string{"member", "reader"}},
		"imgMember":   {ProjectID: "mem", Roles: []string{"member", "reader"}},
		"noRoles":     {ProjectID: "own"},
	}
	img := func(vis string, member string) Target {
		return Target{"project_id": "own", "owner": "own", "visibility": vis, "member_id": member}
	}
	type want map[string]bool // caller → allowed; absent callers are refused
	for _, tc := range []struct {
		rule   string
		target Target
		want   want
	}{
		{"get_image", img("private", ""), want{"admin": true, "owner": true, "ownerReader": true}},
		{"get_image", img("shared", "mem"), want{"admin": true, "owner": true, "ownerReader": true, "other": true, "imgMember": true}},
		{"get_image", img("public", ""), want{"admin": true, "owner": true, "ownerReader": true, "other": true, "imgMember": true}},
		{"download_image", img("public", ""), want{"admin": true, "owner": true, "other": true, "imgMember": true}},
		{"download_image", img("private", ""), want{"admin": true, "owner": true}},
		{"modify_image", img("shared", "mem"), want{"admin": true, "owner": true}},
		{"delete_image", img("public", ""), want{"admin": true, "owner": true}},
		{"upload_image", img("private", ""), want{"admin": true, "owner": true}},
		{"deactivate", img("private", ""), want{"admin": true, "owner": true}},
		{"reactivate", img("private", ""), want{"admin": true, "owner": true}},
		{"communitize_image", img("private", ""), want{"admin": true, "owner": true}},
		{"publicize_image", img("private", ""), want{"admin": true}},
		{"add_member", img("shared", ""), want{"admin": true, "owner": true}},
		{"delete_member", img("shared", "mem"), want{"admin": true, "owner": true}},
		{"modify_member", img("shared", "mem"), want{"admin": true, "imgMember": true}},
		{"get_member", img("shared", "mem"), want{"admin": true, "owner": true, "ownerReader": true, "imgMember": true}},
		{"get_members", img("shared", "mem"), want{"admin": true, "owner": true, "ownerReader": true, "imgMember": true}},
		{"get_images", Target{}, want{"admin": true}},
		{"context_is_admin", Target{}, want{"admin": true}},
	} {
		for name, c := range callers {
			target := tc.target
			if tc.rule == "get_images" {
				target = Target{"project_id": c.ProjectID}
			}
			got := Default().Allowed(tc.rule, c, target)
			w := tc.want[name]
			if tc.rule == "get_images" && name != "noRoles" {
				w = true
			}
			if got != w {
				t.Errorf("%s on %v by %s: %v, want %v", tc.rule, tc.target, name, got, w)
			}
		}
	}
	for _, r := range Defaults {
		if err := Validate(r.Check); err != nil {
			t.Errorf("default %s: %v", r.Name, err)
		}
	}
}

func TestOverrides(t *testing.T) {
	owner := Credentials{ProjectID: "own", Roles: []string{"member", "reader"}}
	target := Target{"project_id": "own", "visibility": "private"}
	e, err := New(map[string]string{
		"publicize_image": "role:member",
		"download_image":  "rule:context_is_admin",
		"delete_image":    "!",
	})
	if err != nil {
		t.Fatal(err)
	}
	for rule, want := range map[string]bool{"publicize_image": true, "download_image": false, "delete_image": false, "modify_image": true} {
		if got := e.Allowed(rule, owner, target); got != want {
			t.Errorf("%s: %v, want %v", rule, got, want)
		}
	}
	if s, _ := e.Check("publicize_image"); s != "role:member" {
		t.Errorf("Check(publicize_image) = %q", s)
	}
	if Default().Allowed("publicize_image", owner, target) {
		t.Error("the overrides changed the defaults")
	}
	if e.Allowed("no_such_rule", owner, target) {
		t.Error("an unknown rule was allowed")
	}
	for _, tc := range []struct {
		rules map[string]string
		rule  string
		msg   string
	}{
		{map[string]string{"publicise_image": "role:admin"}, "publicise_image", "unknown rule name"},
		{map[string]string{"get_image": "role:admin or"}, "get_image", "unexpected end"},
		{map[string]string{"get_image": "rule:nope"}, "get_image", "unknown rule"},
		{map[string]string{"get_image": "rule:download_image", "download_image": "rule:get_image"}, "download_image", "cycle"},
		{map[string]string{"default": "rule:default"}, "default", "cycle"},
	} {
		_, err := New(tc.rules)
		var pe *Error
		if !errors.As(err, &pe) || pe.Rule != tc.rule || !strings.Contains(pe.Msg, tc.msg) {
			t.Errorf("%v: error %v, want one on %s containing %q", tc.rules, err, tc.rule, tc.msg)
		}
	}
}
