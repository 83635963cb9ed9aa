package sdk_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoServerDependencies keeps the sdk light for store authors: nothing
// it builds may pull in the HTTP framework, a SQL driver or the core.
func TestNoServerDependencies(t *testing.T) {
	for _, args := range [][]string{
		{"list", "-deps", "./..."},          // what the packages import
		{"list", "-deps", "-test", "./..."}, // and their tests
		{"list", "-m", "all"},               // what the module requires
	} {
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go %s listed only %d entries: %s", strings.Join(args, " "), len(deps), out)
		}
		for _, d := range deps {
			for _, banned := range []string{
				"github.com/gin-gonic/", "database/sql", "github.com/lib/pq", "modernc.org/sqlite",
				"github.com/mattn/go-sqlite3", "github.com/jackc/pgx", "github.com/glance-go/glance/core",
			} {
				if strings.HasPrefix(d, banned) {
					t.Errorf("go %s: the sdk depends on %s", strings.Join(args, " "), d)
				}
			}
		}
	}
}
