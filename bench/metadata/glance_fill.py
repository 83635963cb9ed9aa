#!/usr/bin/python3
"""Fill the reference Glance's SQLite database up to N live images by cloning
the newest image the benchmark created through the API (its row, properties
and tags), each clone with a new id and name and a later created_at, so that
the list benchmark pages through as many images in Glance as in glance-api.
Seeding 10k images through Glance's API takes longer than the whole
benchmark may on a small machine. Column lists are read from the database,
not assumed.
usage: glance_fill.py GLANCE_SQLITE_DB N"""
import datetime
import sqlite3
import sys
import uuid

db, want = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect(db, timeout=60)
con.row_factory = sqlite3.Row
have = con.execute("SELECT count(*) FROM images WHERE deleted = 0").fetchone()[0]
if have >= want:
    print(0)
    sys.exit(0)
tmpl = con.execute("SELECT * FROM images WHERE deleted = 0 AND name LIKE 'seed-%' "
                   "ORDER BY created_at DESC LIMIT 1").fetchone()
if tmpl is None:
    sys.exit("no seed image to clone")
props = [dict(r) for r in con.execute("SELECT * FROM image_properties WHERE image_id = ? AND deleted = 0", (tmpl['id'],))]
tags = [dict(r) for r in con.execute("SELECT * FROM image_tags WHERE image_id = ? AND deleted = 0", (tmpl['id'],))]
base = datetime.datetime.utcnow()


def insert(table, rows):
    if not rows:
        return
    cols = [c for c in rows[0] if c != 'id' or table == 'images']
    con.executemany("INSERT INTO %s (%s) VALUES (%s)" % (table, ",".join(cols), ",".join("?" * len(cols))),
                    [[r[c] for c in cols] for r in rows])


imgs, ps, ts = [], [], []
for i in range(want - have):
    iid = str(uuid.uuid4())
    when = (base + datetime.timedelta(milliseconds=i)).strftime('%Y-%m-%d %H:%M:%S.%f')
    row = dict(tmpl)
    row.update(id=iid, name='seed-sql-%06d' % i, created_at=when, updated_at=when)
    imgs.append(row)
    for p in props:
        q = dict(p)
        q.update(image_id=iid, created_at=when, updated_at=when)
        ps.append(q)
    for t in tags:
        q = dict(t)
        q.update(image_id=iid, created_at=when, updated_at=when)
        ts.append(q)
with con:
    insert('images', imgs)
    insert('image_properties', ps)
    insert('image_tags', ts)
print(len(imgs))
