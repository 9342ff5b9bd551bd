package store

// postgresMigrations are the PostgreSQL schema's steps, applied in order
// under an advisory lock (several edges may start at once); the
// schema_version table counts the applied ones. Append, never edit.
//
// Times are Unix nanoseconds (bigint), as in SQLite, so both backends
// share the ids, the cursors and the code that reads them. Message ids
// compare byte by byte (COLLATE "C"), as in SQLite and in Go: a time
// range becomes an id range (Filter.where), and the listing's cursor is
// an id, whatever the database's locale.
var postgresMigrations = []string{
	`CREATE TABLE tunnel_names (
		key  text PRIMARY KEY,
		name text NOT NULL UNIQUE,
		created_at timestamptz NOT NULL DEFAULT now()
	);
	CREATE TABLE route_tokens (
		tunnel text NOT NULL,
		path   text NOT NULL,
		token  text NOT NULL,
		created_at timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (tunnel, path)
	);
	CREATE TABLE messages (
		id              text COLLATE "C" PRIMARY KEY,
		received_at     bigint NOT NULL,
		tunnel          text NOT NULL,
		route           text NOT NULL DEFAULT '',
		source_ip       text NOT NULL DEFAULT '',
		method          text NOT NULL DEFAULT '',
		path            text NOT NULL DEFAULT '',
		query           text NOT NULL DEFAULT '',
		body_size       bigint NOT NULL DEFAULT 0,
		-- What became of the body: 0 kept whole, 1 truncated, 2 dropped
		-- (journal.go's bodyState), as in SQLite.
		body_truncated  smallint NOT NULL DEFAULT 0,
		decision        text NOT NULL DEFAULT '',
		reason          text NOT NULL DEFAULT '',
		detail          text NOT NULL DEFAULT '',
		provider        text NOT NULL DEFAULT '',
		event           text NOT NULL DEFAULT '',
		secret_ref      text NOT NULL DEFAULT '',
		delivery_id     text NOT NULL DEFAULT '',
		client_cert     text NOT NULL DEFAULT '',
		replay_of       text NOT NULL DEFAULT '',
		status          integer NOT NULL DEFAULT 0,
		duration_ns     bigint NOT NULL DEFAULT 0,
		queue           text NOT NULL DEFAULT '',
		next_attempt_at bigint,
		attempts        integer NOT NULL DEFAULT 0,
		edge            text NOT NULL DEFAULT '',
		claimed_by      text,
		claim_until     bigint,
		headers          text,
		response_headers text,
		body            bytea,
		response_body   bytea
	);
	CREATE INDEX messages_tunnel ON messages (tunnel, id);
	CREATE INDEX messages_route ON messages (route, id);
	CREATE INDEX messages_decision ON messages (decision, id);
	CREATE INDEX messages_status_class ON messages ((status / 100), id);
	CREATE INDEX messages_due ON messages (next_attempt_at, id) WHERE queue = 'pending';
	CREATE INDEX messages_pending ON messages (tunnel, route, body_size, received_at)
		WHERE queue = 'pending';
	CREATE TABLE attempts (
		message_id  text COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
		n           integer NOT NULL,
		at          bigint NOT NULL,
		status      integer NOT NULL DEFAULT 0,
		error       text NOT NULL DEFAULT '',
		duration_ns bigint NOT NULL DEFAULT 0,
		edge        text NOT NULL DEFAULT '',
		PRIMARY KEY (message_id, n)
	);
	CREATE TABLE audit (
		id     bigserial PRIMARY KEY,
		at     bigint NOT NULL,
		actor  text NOT NULL,
		action text NOT NULL,
		target text NOT NULL DEFAULT '',
		detail text NOT NULL DEFAULT ''
	);
	CREATE INDEX audit_action ON audit (action, id);
	-- The duplicate check: a key is held (done = false) by the copy being
	-- delivered, or done until expires.
	CREATE TABLE replay_keys (
		key     text PRIMARY KEY,
		owner   text NOT NULL,
		done    boolean NOT NULL DEFAULT false,
		expires bigint NOT NULL
	);
	CREATE INDEX replay_keys_expires ON replay_keys (expires);
	-- The certificate cache (autocert's keys) and the locks edges take
	-- before ordering one.
	CREATE TABLE certs (
		key  text PRIMARY KEY,
		data bytea NOT NULL,
		updated_at timestamptz NOT NULL DEFAULT now()
	);
	CREATE TABLE cert_locks (
		key   text PRIMARY KEY,
		owner text NOT NULL,
		until bigint NOT NULL
	);
	-- The registry: edges and the agent sessions they hold, leased.
	CREATE TABLE cluster_edges (
		id        text PRIMARY KEY,
		advertise text NOT NULL,
		started   bigint NOT NULL,
		renewed   bigint NOT NULL,
		until     bigint NOT NULL
	);
	CREATE TABLE cluster_sessions (
		id       text PRIMARY KEY,
		edge     text NOT NULL REFERENCES cluster_edges (id) ON DELETE CASCADE,
		agent    text NOT NULL,
		tunnels  text[] NOT NULL,
		since    bigint NOT NULL,
		until    bigint NOT NULL,
		declared bytea
	);
	CREATE INDEX cluster_sessions_tunnels ON cluster_sessions USING gin (tunnels)`,
}
