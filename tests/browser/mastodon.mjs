// A tiny Mastodon instance for the browser test: the documented endpoints Switchboard's
// connector uses (crates/connectors/src/mastodon.rs), on 127.0.0.1 and a free port.
//
//   GET  /api/v1/accounts/verify_credentials   the channel's account (checks the token)
//   GET  /api/v1/notifications?min_id=&limit=   newest first, entities just after min_id,
//                                              with a Link header (rel="prev" / rel="next")
//   POST /api/v1/statuses                       JSON {status, in_reply_to_id}; the same
//                                              Idempotency-Key returns the same status
//
// Every POST /api/v1/statuses is recorded in `posts`, so a test can count what was sent.

import http from 'node:http';

export const ACCOUNT = { id: '1', username: 'acme', acct: 'acme', display_name: 'Acme', url: 'https://mastodon.example/@acme' };

/** A `mention` notification of the account, as Mastodon sends it. */
export function mention({ id, statusId, text, author, createdAt = new Date().toISOString() }) {
  const mentionHtml = `<span class="h-card"><a href="${ACCOUNT.url}" class="u-url mention">@<span>${ACCOUNT.username}</span></a></span>`;
  const escaped = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return {
    id: String(id),
    type: 'mention',
    created_at: createdAt,
    account: author,
    status: {
      id: String(statusId),
      created_at: createdAt,
      in_reply_to_id: null,
      in_reply_to_account_id: null,
      sensitive: false,
      spoiler_text: '',
      visibility: 'public',
      language: 'de',
      uri: `https://beispiel.social/users/${author.username}/statuses/${statusId}`,
      url: `https://beispiel.social/@${author.username}/${statusId}`,
      replies_count: 0,
      reblogs_count: 0,
      favourites_count: 0,
      content: `<p>${mentionHtml} ${escaped}</p>`,
      account: author,
      mentions: [{ id: ACCOUNT.id, username: ACCOUNT.username, acct: ACCOUNT.acct, url: ACCOUNT.url }],
      tags: [],
      emojis: [],
    },
  };
}

const gt = (a, b) => BigInt(a) > BigInt(b);

/**
 * Starts the instance. Returns { url, posts, notifications, requests, close }.
 * @param {{ token: string, notifications?: object[] }} options
 */
export async function startMastodon({ token, notifications = [] }) {
  const state = { posts: [], notifications: [...notifications], requests: [], created: new Map() };
  let url;

  const send = (res, status, body, headers = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };

  const server = http.createServer((req, res) => {
    const u = new URL(req.url, url);
    state.requests.push(`${req.method} ${u.pathname}${u.search}`);
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { raw += d; });
    req.on('end', () => {
      if (req.headers.authorization !== `Bearer ${token}`) {
        return send(res, 401, { error: 'The access token is invalid' });
      }
      if (req.method === 'GET' && u.pathname === '/api/v1/accounts/verify_credentials') {
        return send(res, 200, ACCOUNT);
      }
      if (req.method === 'GET' && u.pathname === '/api/v1/notifications') {
        const limit = Math.min(Number(u.searchParams.get('limit') || 40), 80);
        const minId = u.searchParams.get('min_id');
        const maxId = u.searchParams.get('max_id');
        let page = state.notifications
          .filter((n) => (!minId || gt(n.id, minId)) && (!maxId || gt(maxId, n.id)))
          .sort((a, b) => (gt(a.id, b.id) ? 1 : -1));
        // min_id: the entities immediately after it; otherwise the newest.
        page = minId ? page.slice(0, limit) : page.slice(-limit);
        page.reverse();
        const headers = {};
        if (page.length) {
          const newest = page[0].id;
          const oldest = page[page.length - 1].id;
          headers.link = `<${url}/api/v1/notifications?max_id=${oldest}>; rel="next", <${url}/api/v1/notifications?min_id=${newest}>; rel="prev"`;
        }
        return send(res, 200, page, headers);
      }
      if (req.method === 'POST' && u.pathname === '/api/v1/statuses') {
        let body;
        try {
          body = (req.headers['content-type'] || '').includes('application/json')
            ? JSON.parse(raw)
            : Object.fromEntries(new URLSearchParams(raw));
        } catch {
          return send(res, 422, { error: 'Validation failed: unreadable body' });
        }
        if (!body.status) return send(res, 422, { error: "Validation failed: Text can't be blank" });
        const key = req.headers['idempotency-key'] || '';
        state.posts.push({ idempotencyKey: key, authorization: req.headers.authorization, body });
        let status = key && state.created.get(key);
        if (!status) {
          const id = String(110_000_000_000_000_000n + BigInt(state.created.size + 1));
          status = {
            id,
            created_at: new Date().toISOString(),
            in_reply_to_id: body.in_reply_to_id ?? null,
            visibility: body.visibility || 'public',
            content: `<p>${String(body.status).replace(/</g, '&lt;')}</p>`,
            url: `https://mastodon.example/@acme/${id}`,
            account: ACCOUNT,
          };
          state.created.set(key || id, status);
        }
        return send(res, 200, status);
      }
      return send(res, 404, { error: 'Record not found' });
    });
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    posts: state.posts,
    notifications: state.notifications,
    requests: state.requests,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}
