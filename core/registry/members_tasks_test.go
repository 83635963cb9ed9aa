package registry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/glance-go/glance/core/image"
)

func TestMembers(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	img := newImage("shared")
	if err := db.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	m, err := db.AddMember(ctx, img.ID, "proj-b")
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != image.MemberPending || m.MemberID != "proj-b" || m.ImageID != img.ID || m.CreatedAt.IsZero() {
		t.Fatalf("added %+v", m)
	}
	if _, err := db.AddMember(ctx, img.ID, "proj-b"); !errors.Is(err, ErrMemberExists) {
		t.Fatalf("duplicate member: %v", err)
	}
	if _, err := db.AddMember(ctx, uuid.NewString(), "proj-b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("member of an unknown image: %v", err)
	}
	if _, err := db.AddMember(ctx, img.ID, "proj-c"); err != nil {
		t.Fatal(err)
	}
	m, err = db.SetMemberStatus(ctx, img.ID, "proj-b", image.MemberAccepted)
	if err != nil || m.Status != image.MemberAccepted {
		t.Fatalf("accept: %+v %v", m, err)
	}
	if _, err := db.SetMemberStatus(ctx, img.ID, "proj-x", image.MemberAccepted); !errors.Is(err, ErrMemberNotFound) {
		t.Fatalf("status of a non-member: %v", err)
	}
	if _, err := db.SetMemberStatus(ctx, img.ID, "proj-b", "maybe"); !errors.Is(err, ErrInvalidQuery) {
		t.Fatalf("bad status: %v", err)
	}
	got, err := db.GetMember(ctx, img.ID, "proj-b")
	if err != nil || got.Status != image.MemberAccepted {
		t.Fatalf("get: %+v %v", got, err)
	}
	list, err := db.ListMembers(ctx, img.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %v %v", list, err)
	}
	if err := db.DeleteMember(ctx, img.ID, "proj-b"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteMember(ctx, img.ID, "proj-b"); !errors.Is(err, ErrMemberNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := db.GetMember(ctx, img.ID, "proj-b"); !errors.Is(err, ErrMemberNotFound) {
		t.Fatalf("get a removed member: %v", err)
	}
	// A removed member may be added again, pending anew.
	if m, err := db.AddMember(ctx, img.ID, "proj-b"); err != nil || m.Status != image.MemberPending {
		t.Fatalf("re-add: %+v %v", m, err)
	}
	// The members of a deleted image are gone with it.
	db.Delete(ctx, img.ID)
	if _, err := db.ListMembers(ctx, img.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("members of a deleted image: %v", err)
	}
}

// TestAddMemberRace: of concurrent adds of one member exactly one wins.
func TestAddMemberRace(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	img := newImage("race")
	db.Create(ctx, img)
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = db.AddMember(ctx, img.ID, "proj-b")
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, ErrMemberExists):
			t.Fatalf("unexpected: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d adds won, want 1", wins)
	}
}

func TestTasks(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	db, _ := openTest(t, OpenOptions{AutoMigrate: true, Now: func() time.Time { return clock }})
	img := newImage("imported")
	db.Create(ctx, img)
	var ids []string
	for i := 0; i < 5; i++ {
		task := &image.Task{ID: uuid.NewString(), Type: "api_image_import", Owner: image.Ptr(fmt.Sprintf("proj-%d", i%2)),
			Input: []byte(`{"import_req": {"method": {"name": "glance-direct"}}}`), CreatedAt: clock.Add(time.Duration(i) * time.Second)}
		if i < 2 {
			task.ImageID = image.Ptr(img.ID)
		}
		if err := db.CreateTask(ctx, task); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, task.ID)
	}
	if err := db.CreateTask(ctx, &image.Task{ID: ids[0], Type: "import"}); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate task: %v", err)
	}
	got, err := db.GetTask(ctx, ids[0])
	if err != nil || got.Status != image.TaskPending || got.Type != "api_image_import" || string(got.Input) == "" || got.Result != nil ||
		*got.ImageID != img.ID || *got.Owner != "proj-0" {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := db.GetTask(ctx, uuid.NewString()); !errors.Is(err, ErrTaskNotFound) {
		t.Fatalf("unknown task: %v", err)
	}

	// Status compare-and-set.
	if err := db.SetTaskStatus(ctx, ids[0], image.TaskPending, image.TaskProcessing, nil, ""); err != nil {
		t.Fatal(err)
	}
	var tc *TaskConflictError
	if err := db.SetTaskStatus(ctx, ids[0], image.TaskPending, image.TaskProcessing, nil, ""); !errors.As(err, &tc) || !errors.Is(err, ErrConflict) ||
		tc.Actual != image.TaskProcessing {
		t.Fatalf("stale task transition: %v", err)
	}
	if err := db.SetTaskStatus(ctx, ids[0], image.TaskProcessing, image.TaskSuccess, []byte(`{"image_id": "x"}`), "Copied 0 MiB"); err != nil {
		t.Fatal(err)
	}
	got, _ = db.GetTask(ctx, ids[0])
	if got.Status != image.TaskSuccess || string(got.Result) != `{"image_id": "x"}` || got.Message != "Copied 0 MiB" {
		t.Fatalf("after success: %+v", got)
	}
	if err := db.SetTaskStatus(ctx, uuid.NewString(), image.TaskPending, image.TaskProcessing, nil, ""); !errors.Is(err, ErrTaskNotFound) {
		t.Fatalf("unknown task transition: %v", err)
	}

	// Lists.
	label := map[string]int{}
	for i, id := range ids {
		label[id] = i
	}
	order := func(ts []*image.Task) string {
		s := ""
		for _, t := range ts {
			s += fmt.Sprint(label[t.ID])
		}
		return s
	}
	for _, c := range []struct {
		name string
		q    TaskQuery
		want string
	}{
		{"newest first", TaskQuery{}, "43210"},
		{"limit", TaskQuery{Limit: 2}, "43"},
		{"marker", TaskQuery{Limit: 2, Marker: ids[3]}, "21"},
		{"asc", TaskQuery{SortDir: "asc"}, "01234"},
		{"asc marker", TaskQuery{SortDir: "asc", Marker: ids[1]}, "234"},
		{"owner", TaskQuery{Owner: image.Ptr("proj-1")}, "31"},
		{"status", TaskQuery{Status: image.TaskSuccess}, "0"},
		{"type", TaskQuery{Type: "import"}, ""},
		{"sort by status asc", TaskQuery{SortKey: "status", SortDir: "asc", Limit: 1}, fmt.Sprint(label[minID(ids[1:])])},
	} {
		got, err := db.ListTasks(ctx, c.q)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if order(got) != c.want {
			t.Fatalf("%s: got %s, want %s", c.name, order(got), c.want)
		}
	}
	if _, err := db.ListTasks(ctx, TaskQuery{Marker: uuid.NewString()}); !errors.Is(err, ErrInvalidMarker) {
		t.Fatalf("unknown task marker: %v", err)
	}
	if _, err := db.ListTasks(ctx, TaskQuery{SortKey: "input"}); !errors.Is(err, ErrInvalidQuery) {
		t.Fatalf("bad task sort key: %v", err)
	}
	its, err := db.ImageTasks(ctx, img.ID)
	if err != nil || order(its) != "10" {
		t.Fatalf("image tasks: %s %v", order(its), err)
	}
	if err := db.DeleteTask(ctx, ids[4]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetTask(ctx, ids[4]); !errors.Is(err, ErrTaskNotFound) {
		t.Fatalf("deleted task: %v", err)
	}
	if err := db.DeleteTask(ctx, ids[4]); !errors.Is(err, ErrTaskNotFound) {
		t.Fatalf("second task delete: %v", err)
	}
}

func minID(ids []string) string {
	m := ids[0]
	for _, id := range ids {
		if id < m {
			m = id
		}
	}
	return m
}

// TestConcurrentUploadsOneWins: two uploads racing on one image, through
// the API's sequence (queued → saving, then commit), or both committing
// on a saving image: never both active, exactly one location.
func TestConcurrentUploadsOneWins(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	for round := 0; round < 20; round++ {
		img := newImage(fmt.Sprintf("upload-%d", round))
		if err := db.Create(ctx, img); err != nil {
			t.Fatal(err)
		}
		skipSaving := round%2 == 1
		if skipSaving {
			if err := db.SetStatus(ctx, img.ID, image.StatusQueued, image.StatusSaving); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		committed := make([]bool, 2)
		for u := 0; u < 2; u++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if !skipSaving {
					if err := db.SetStatus(ctx, img.ID, image.StatusQueued, image.StatusSaving); err != nil {
						if !errors.Is(err, ErrConflict) {
							t.Errorf("set saving: %v", err)
						}
						return
					}
				}
				err := db.CommitUpload(ctx, img.ID, upload(fmt.Sprintf("file:///%s/%d", img.ID, u)))
				switch {
				case err == nil:
					committed[u] = true
				case !errors.Is(err, ErrConflict):
					t.Errorf("commit: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if committed[0] == committed[1] {
			t.Fatalf("round %d: commits %v, want exactly one", round, committed)
		}
		locs, err := db.Locations(ctx, img.ID)
		if err != nil || len(locs) != 1 {
			t.Fatalf("round %d: locations %v %v", round, locs, err)
		}
		got, _ := db.Get(ctx, img.ID)
		if got.Status != image.StatusActive {
			t.Fatalf("round %d: status %s", round, got.Status)
		}
	}
}
