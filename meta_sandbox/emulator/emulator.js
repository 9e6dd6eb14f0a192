/* Phone emulator of the Meta sandbox: a person (or an Odoo tour) plays the customer.
 *
 * URL: /emulator?phone=33612345678&pnid=1000001[&name=Ana]   (vanilla JS, no build step, works offline)
 * Talks to the sandbox's control API: GET /_sandbox/conversations, GET /_sandbox/chat?since=,
 * POST /_sandbox/emulate, POST /_sandbox/upload, POST /_sandbox/read (see meta_sandbox/emulator.py), with the
 * control token the sandbox embeds in the page (X-Sandbox-Token header; ?token= on media URLs).
 *
 * Stable selectors (for tours; every element also has a data-testid):
 *   .o-wa-emu-account                      business number picker (<select>, value = phone_number_id)
 *   .o-wa-emu-new-phone / -new-name / -new-open   "new number" form (digits only, 6 to 15)
 *   .o-wa-emu-conversation[data-phone=33612345678]   a conversation in the list (.o-wa-emu-active = open)
 *   .o-wa-emu-message[data-direction=out|in][data-wamid=...][data-status=...]   a bubble
 *       (out = sent by the business, in = sent by this customer); .o-wa-emu-text, .o-wa-emu-header,
 *       .o-wa-emu-footer, .o-wa-emu-media, .o-wa-emu-file-card, .o-wa-emu-location-card, .o-wa-emu-reactions,
 *       .o-wa-emu-ticks (customer messages: .o-wa-emu-tick-read once the business read them)
 *   .o-wa-emu-quick-reply[data-index=0]    template quick-reply button  -> "button" webhook
 *   .o-wa-emu-reply-button[data-id=...]    interactive reply button      -> "interactive/button_reply"
 *   .o-wa-emu-list-open, .o-wa-emu-list-row[data-id=...]   interactive list -> "interactive/list_reply"
 *   .o-wa-emu-url-button, .o-wa-emu-phone-button, .o-wa-emu-copy-code      other template buttons
 *   .o-wa-emu-action-reply / .o-wa-emu-action-react    per-bubble actions (quote, react)
 *   .o-wa-emu-emoji[data-emoji=👍], .o-wa-emu-emoji-remove   reaction picker
 *   .o-wa-emu-input, .o-wa-emu-send, .o-wa-emu-attach (+ input.o-wa-emu-file), .o-wa-emu-loc-toggle,
 *   .o-wa-emu-location .o-wa-emu-loc-send, .o-wa-emu-quote-cancel, .o-wa-emu-read-receipts, .o-wa-emu-error
 */
(function () {
    "use strict";
    const $ = (sel, root) => (root || document).querySelector(sel);
    const EMOJIS = ["👍", "❤️", "😂", "😮", "😢", "🙏"];
    const UNREAD = ["accepted", "sent", "delivered"];
    const READ_KEY = "o-wa-emu-read-receipts";
    const TOKEN = ($('meta[name="sandbox-control-token"]') || {}).content || "";
    const query = new URLSearchParams(location.search);
    const st = {
        pnid: query.get("pnid") || "",
        phone: digits(query.get("phone")),
        name: query.get("name") || "",
        cursor: "0:",
        bubbles: new Map(), // wamid -> message view
        quote: null,
        reading: false,
    };

    function digits(value) {
        return String(value || "").replace(/\D/g, "");
    }

    const ICONS = {
        pin: '<path d="M12 21s-6-6.2-6-11a6 6 0 0 1 12 0c0 4.8-6 11-6 11z"/><circle cx="12" cy="10" r="2.2"/>',
        doc: '<path d="M7 3h7l4 4v14H7zM14 3v4h4M9.5 12h6M9.5 15h6M9.5 18h4"/>',
    };

    function icon(name, cls) {
        const span = el("span", cls);
        span.innerHTML = `<svg class="o-wa-emu-icon" viewBox="0 0 24 24" aria-hidden="true">${ICONS[name]}</svg>`;
        return span;
    }

    function el(tag, cls, text, attrs) {
        const node = document.createElement(tag);
        if (cls) node.className = cls;
        if (text !== undefined && text !== null) node.textContent = text;
        for (const [k, v] of Object.entries(attrs || {})) {
            if (v !== undefined && v !== null) node.setAttribute(k, v);
        }
        return node;
    }

    /** A URL the page may link to or load: http(s), tel, or the sandbox's media store (with the token). */
    function safeUrl(url) {
        const value = String(url || "");
        if (value.startsWith("/_sandbox/media/")) return `${value}?token=${encodeURIComponent(TOKEN)}`;
        return /^(https?:|tel:)/i.test(value) ? value : undefined;
    }

    async function api(method, path, body, headers) {
        const opts = { method, headers: { ...(headers || {}), "X-Sandbox-Token": TOKEN } };
        if (body !== undefined) {
            opts.body = body instanceof Blob ? body : JSON.stringify(body);
            if (!(body instanceof Blob)) opts.headers["Content-Type"] = "application/json";
        }
        const resp = await fetch(path, opts);
        const data = await resp.json().catch(() => ({}));
        if (!resp.ok) throw new Error((data.error && data.error.message) || resp.statusText);
        return data;
    }

    function showError(message) {
        const box = $(".o-wa-emu-error");
        box.textContent = message || "";
        if (message) setTimeout(() => box.textContent === message && (box.textContent = ""), 6000);
    }

    // formatting ---------------------------------------------------------------------------------------
    function escapeHtml(text) {
        return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    }

    function formatText(text) {
        return escapeHtml(text)
            .replace(/```([\s\S]+?)```/g, "<code>$1</code>")
            .replace(/(^|\s)\*([^*\n]+)\*/g, "$1<b>$2</b>")
            .replace(/(^|\s)_([^_\n]+)_/g, "$1<i>$2</i>")
            .replace(/(^|\s)~([^~\n]+)~/g, "$1<s>$2</s>")
            .replace(/(https?:\/\/[^\s<]+)/g, '<a href="$1" target="_blank" rel="noopener">$1</a>');
    }

    function clock(t) {
        return t ? new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
    }

    // rendering ----------------------------------------------------------------------------------------
    function mediaNode(media) {
        const url = safeUrl(media.url);
        if (media.type === "image" || media.type === "sticker") {
            return el("img", `o-wa-emu-media o-wa-emu-${media.type}`, null, { src: url, alt: media.type });
        }
        if (media.type === "video" || media.type === "audio") {
            return el(media.type, "o-wa-emu-media", null, { src: url, controls: "" });
        }
        const card = el("a", "o-wa-emu-file-card", null, { href: url, target: "_blank", download: media.filename });
        card.append(icon("doc", "o-wa-emu-file-icon"), el("span", "o-wa-emu-file-name", media.filename || "Document"));
        card.append(el("span", "o-wa-emu-file-type", (media.mime_type || "").split("/").pop().toUpperCase()));
        return card;
    }

    function locationNode(loc) {
        const card = el("a", "o-wa-emu-location-card", null, { href: safeUrl(loc.url), target: "_blank", rel: "noopener" });
        card.append(icon("pin", "o-wa-emu-location-pin"));
        const info = el("span", "o-wa-emu-location-info");
        info.append(el("b", null, loc.name || `${loc.latitude}, ${loc.longitude}`));
        if (loc.address) info.append(el("small", null, loc.address));
        card.append(info);
        return card;
    }

    function headerNode(header) {
        if (header.type === "text") return el("div", "o-wa-emu-header", header.text);
        const box = el("div", "o-wa-emu-header");
        box.append(header.type === "location" ? locationNode(header) : mediaNode(header));
        return box;
    }

    function buttonNode(m, b) {
        if (b.type === "quick_reply") {
            const node = el("button", "o-wa-emu-quick-reply", `↩ ${b.text}`, { type: "button", "data-index": b.index, "data-testid": "quick-reply" });
            node.addEventListener("click", () => send("button", { wamid: m.wamid, index: b.index }));
            return node;
        }
        if (b.type === "reply") {
            const node = el("button", "o-wa-emu-reply-button", b.text, { type: "button", "data-id": b.id, "data-testid": "reply-button" });
            node.addEventListener("click", () => send("button_reply", { wamid: m.wamid, id: b.id }));
            return node;
        }
        if (b.type === "url") return el("a", "o-wa-emu-url-button", `↗ ${b.text}`, { href: safeUrl(b.url), target: "_blank", rel: "noopener", title: b.url });
        if (b.type === "phone_number") return el("a", "o-wa-emu-phone-button", `☎ ${b.text} · ${b.phone || ""}`, { href: safeUrl(`tel:${b.phone || ""}`) });
        if (b.type === "copy_code") {
            const node = el("button", "o-wa-emu-copy-code", `⧉ ${b.text}: ${b.code}`, { type: "button" });
            node.addEventListener("click", () => {
                if (navigator.clipboard) navigator.clipboard.writeText(b.code).catch(() => {});
                node.textContent = `✓ Copied ${b.code}`;
            });
            return node;
        }
        return el("button", "o-wa-emu-other-button", b.text, { type: "button", disabled: "" });
    }

    function openList(m) {
        const sheet = $(".o-wa-emu-sheet");
        $(".o-wa-emu-sheet-title").textContent = m.list.button;
        const body = $(".o-wa-emu-sheet-body");
        body.replaceChildren();
        for (const section of m.list.sections) {
            if (section.title) body.append(el("div", "o-wa-emu-list-section", section.title));
            for (const row of section.rows || []) {
                const node = el("button", "o-wa-emu-list-row", null, { type: "button", "data-id": row.id, "data-testid": "list-row" });
                node.append(el("b", null, row.title), el("small", null, row.description || ""));
                node.addEventListener("click", () => {
                    sheet.hidden = true;
                    send("list_reply", { wamid: m.wamid, id: row.id });
                });
                body.append(node);
            }
        }
        sheet.hidden = false;
    }

    function summary(m) {
        if (!m) return "…";
        if (m.text) return m.text.split("\n")[0].replace(/[*_~`]/g, "").slice(0, 90);
        if (m.media) return m.media.filename || m.media.type;
        if (m.location) return `Location: ${m.location.name || ""}`;
        return m.type;
    }

    function renderBubble(m) {
        const side = m.direction === "out" ? "business" : "customer";
        const node = el("div", `o-wa-emu-message o-wa-emu-${side}`, null, { "data-wamid": m.wamid, "data-direction": m.direction, "data-type": m.type, "data-testid": "message" });
        const bubble = el("div", "o-wa-emu-bubble");
        if (m.context) bubble.append(el("div", "o-wa-emu-quoted", summary(st.bubbles.get(m.context))));
        if (m.header) bubble.append(headerNode(m.header));
        if (m.media) bubble.append(mediaNode(m.media));
        if (m.location) bubble.append(locationNode(m.location));
        if (m.text) {
            const text = el("div", "o-wa-emu-text");
            text.innerHTML = formatText(m.text);
            bubble.append(text);
        }
        if (m.footer) bubble.append(el("div", "o-wa-emu-footer", m.footer));
        bubble.append(el("div", "o-wa-emu-meta"));
        node.append(bubble);
        if (m.buttons && m.buttons.length) {
            const box = el("div", "o-wa-emu-buttons");
            for (const b of m.buttons) box.append(buttonNode(m, b));
            node.append(box);
        }
        if (m.list) {
            const open = el("button", "o-wa-emu-list-open", `☰ ${m.list.button}`, { type: "button", "data-testid": "list-open" });
            open.addEventListener("click", () => openList(m));
            node.append(open);
        }
        const actions = el("div", "o-wa-emu-actions");
        const reply = el("button", "o-wa-emu-action-reply", "↩", { type: "button", title: "Reply" });
        reply.addEventListener("click", () => setQuote(m));
        const react = el("button", "o-wa-emu-action-react", "☺", { type: "button", title: "React" });
        react.addEventListener("click", () => togglePicker(node, m));
        actions.append(reply, react);
        node.append(actions, el("div", "o-wa-emu-reactions"));
        return node;
    }

    function applyUpdate(node, m, update) {
        m.status = update.status;
        m.reactions = update.reactions || {};
        node.dataset.status = update.status || "";
        const meta = $(".o-wa-emu-meta", node);
        meta.replaceChildren(el("span", "o-wa-emu-time", clock(m.time)));
        if (m.direction === "in") {
            const read = update.status === "read";
            meta.append(el("span", `o-wa-emu-ticks ${read ? "o-wa-emu-tick-read" : "o-wa-emu-tick-sent"}`, "✓✓", { title: read ? "Read" : "Sent" }));
        } else if (update.status === "failed") {
            meta.append(el("span", "o-wa-emu-failed", "⚠ not delivered", { title: "The sandbox failed this message" }));
        }
        const box = $(".o-wa-emu-reactions", node);
        box.replaceChildren(...Object.entries(m.reactions).map(([side, emoji]) => el("span", `o-wa-emu-reaction o-wa-emu-reaction-${side}`, emoji)));
    }

    function togglePicker(node, m) {
        const open = $(".o-wa-emu-emoji-picker", node);
        document.querySelectorAll(".o-wa-emu-emoji-picker").forEach((p) => p.remove());
        if (open) return;
        const picker = el("div", "o-wa-emu-emoji-picker", null, { "data-testid": "emoji-picker" });
        for (const emoji of EMOJIS) {
            const b = el("button", "o-wa-emu-emoji", emoji, { type: "button", "data-emoji": emoji });
            b.addEventListener("click", () => picker.remove() || send("reaction", { wamid: m.wamid, emoji }));
            picker.append(b);
        }
        if (m.reactions && m.reactions.in) {
            const rm = el("button", "o-wa-emu-emoji-remove", "✕", { type: "button", title: "Remove my reaction" });
            rm.addEventListener("click", () => picker.remove() || send("reaction", { wamid: m.wamid, emoji: "" }));
            picker.append(rm);
        }
        node.append(picker);
    }

    function setQuote(m) {
        st.quote = m;
        $(".o-wa-emu-quote").hidden = !m;
        $(".o-wa-emu-quote-text").textContent = m ? summary(m) : "";
        if (m) $(".o-wa-emu-input").focus();
    }

    // data ---------------------------------------------------------------------------------------------
    async function refreshList() {
        const data = await api("GET", "/_sandbox/conversations");
        const select = $(".o-wa-emu-account");
        const ids = data.accounts.map((a) => a.id).join(",");
        if (select.dataset.ids !== ids) {
            select.dataset.ids = ids;
            select.replaceChildren(...data.accounts.map((a) => el("option", null, `${a.name} (${a.display_phone_number})`, { value: a.id })));
        }
        if (!st.pnid || !data.accounts.some((a) => a.id === st.pnid)) st.pnid = data.accounts.length ? data.accounts[0].id : "";
        select.value = st.pnid;
        const list = $(".o-wa-emu-conversations");
        const items = data.conversations.filter((c) => c.phone_number_id === st.pnid);
        if (st.phone && !items.some((c) => c.wa_id === st.phone)) items.unshift({ wa_id: st.phone, name: st.name, last: { preview: "New conversation" } });
        list.replaceChildren(...items.map(conversationNode));
    }

    function conversationNode(c) {
        const active = c.wa_id === st.phone ? " o-wa-emu-active" : "";
        const node = el("li", `o-wa-emu-conversation${active}`, null, { "data-phone": c.wa_id, "data-testid": "conversation" });
        node.append(el("div", "o-wa-emu-avatar", (c.name || c.wa_id || "?").slice(0, 1).toUpperCase()));
        const info = el("div", "o-wa-emu-conv-info");
        info.append(el("div", "o-wa-emu-conv-name", c.name && c.name !== c.wa_id ? `${c.name} · +${c.wa_id}` : `+${c.wa_id}`));
        info.append(el("div", "o-wa-emu-conv-last", `${c.last.direction === "in" ? "You: " : ""}${c.last.preview || ""}`));
        node.append(info, el("div", "o-wa-emu-conv-time", clock(c.last.time)));
        node.addEventListener("click", () => open(c.wa_id, c.name));
        return node;
    }

    function open(phone, name) {
        st.phone = phone;
        st.name = name && name !== phone ? name : "";
        st.cursor = "0:";
        st.bubbles.clear();
        setQuote(null);
        $(".o-wa-emu-messages").replaceChildren();
        const title = st.name ? `${st.name} (+${phone})` : `+${phone}`;
        $(".o-wa-emu-chat-title").textContent = phone ? title : "Pick or open a conversation";
        $(".o-wa-emu-chat-sub").textContent = "";
        $(".o-wa-emu-avatar", $(".o-wa-emu-chat-head")).textContent = (st.name || "+").slice(0, 1).toUpperCase();
        $(".o-wa-emu-input").disabled = $(".o-wa-emu-send").disabled = !phone;
        const url = new URL(location.href);
        if (phone) url.searchParams.set("phone", phone);
        else url.searchParams.delete("phone");
        url.searchParams.set("pnid", st.pnid);
        history.replaceState(null, "", url);
        document.querySelectorAll(".o-wa-emu-conversation").forEach((n) => n.classList.toggle("o-wa-emu-active", n.dataset.phone === phone));
        return pollChat();
    }

    async function pollChat() {
        if (!st.phone || !st.pnid) return;
        const phone = st.phone;
        const q = new URLSearchParams({ pnid: st.pnid, phone, since: st.cursor });
        const data = await api("GET", `/_sandbox/chat?${q}`);
        if (phone !== st.phone) return;
        const box = $(".o-wa-emu-messages");
        if (data.reset) {
            box.replaceChildren();
            st.bubbles.clear();
        }
        if (data.name && data.name !== phone && !st.name) {
            st.name = data.name;
            $(".o-wa-emu-chat-title").textContent = `${st.name} (+${phone})`;
            $(".o-wa-emu-avatar", $(".o-wa-emu-chat-head")).textContent = st.name.slice(0, 1).toUpperCase();
        }
        $(".o-wa-emu-chat-sub").textContent = `with ${data.business} · you play the customer`;
        const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
        for (const m of data.messages) {
            if (st.bubbles.has(m.wamid)) continue;
            st.bubbles.set(m.wamid, m);
            box.append(renderBubble(m));
        }
        for (const [wamid, update] of Object.entries(data.updates)) {
            const node = box.querySelector(`[data-wamid="${CSS.escape(wamid)}"]`);
            if (node) applyUpdate(node, st.bubbles.get(wamid), update);
        }
        if (data.messages.length && (atBottom || data.reset || st.cursor === "0:")) box.scrollTop = box.scrollHeight;
        st.cursor = data.cursor;
        maybeRead();
    }

    async function maybeRead() {
        if (st.reading || !$(".o-wa-emu-read-receipts").checked || document.visibilityState !== "visible") return;
        const unread = [...st.bubbles.values()].some((m) => m.direction === "out" && UNREAD.includes(m.status));
        if (!unread) return;
        st.reading = true;
        try {
            await api("POST", "/_sandbox/read", { pnid: st.pnid, phone: st.phone });
        } catch (e) {
            showError(e.message);
        } finally {
            st.reading = false;
        }
    }

    async function send(kind, extra) {
        try {
            await api("POST", "/_sandbox/emulate", { pnid: st.pnid, phone: st.phone, name: st.name || undefined, kind, ...extra });
            showError("");
            await pollChat();
        } catch (e) {
            showError(e.message);
        }
    }

    async function loop() {
        try {
            await refreshList();
            await pollChat();
        } catch (e) {
            showError(`sandbox unreachable: ${e.message}`);
        }
        setTimeout(loop, 1000);
    }

    // wiring -------------------------------------------------------------------------------------------
    $(".o-wa-emu-composer").addEventListener("submit", (ev) => {
        ev.preventDefault();
        const input = $(".o-wa-emu-input");
        const text = input.value.trim();
        if (!text || !st.phone) return;
        input.value = "";
        const context = st.quote ? st.quote.wamid : undefined;
        setQuote(null);
        send("text", { text, context });
    });
    $(".o-wa-emu-attach").addEventListener("click", () => st.phone && $(".o-wa-emu-file").click());
    $(".o-wa-emu-file").addEventListener("change", async (ev) => {
        const file = ev.target.files[0];
        ev.target.value = "";
        if (!file) return;
        try {
            const q = new URLSearchParams({ pnid: st.pnid, filename: file.name });
            const media = await api("POST", `/_sandbox/upload?${q}`, file, { "Content-Type": file.type || "application/octet-stream" });
            const caption = $(".o-wa-emu-input").value.trim();
            $(".o-wa-emu-input").value = "";
            const context = st.quote ? st.quote.wamid : undefined;
            setQuote(null);
            await send("media", { media_id: media.id, caption: caption || undefined, context });
        } catch (e) {
            showError(e.message);
        }
    });
    $(".o-wa-emu-loc-toggle").addEventListener("click", () => {
        const form = $(".o-wa-emu-location");
        form.hidden = !form.hidden || !st.phone;
    });
    $(".o-wa-emu-location").addEventListener("submit", (ev) => {
        ev.preventDefault();
        const form = ev.target;
        const place = Object.fromEntries(new FormData(form).entries());
        form.hidden = true;
        const context = st.quote ? st.quote.wamid : undefined;
        setQuote(null);
        send("location", { location: place, context });
    });
    $(".o-wa-emu-quote-cancel").addEventListener("click", () => setQuote(null));
    $(".o-wa-emu-sheet-close").addEventListener("click", () => ($(".o-wa-emu-sheet").hidden = true));
    $(".o-wa-emu-new").addEventListener("submit", (ev) => {
        ev.preventDefault();
        const phone = digits($(".o-wa-emu-new-phone").value);
        const error = $(".o-wa-emu-new-error");
        if (phone.length < 6 || phone.length > 15 || /[^\d\s+().-]/.test($(".o-wa-emu-new-phone").value)) {
            error.textContent = "Enter the number with its country code: 6 to 15 digits, e.g. 33612345678.";
            return;
        }
        error.textContent = "";
        const name = $(".o-wa-emu-new-name").value.trim();
        $(".o-wa-emu-new-phone").value = $(".o-wa-emu-new-name").value = "";
        open(phone, name).then(refreshList).catch((e) => showError(e.message));
    });
    $(".o-wa-emu-account").addEventListener("change", (ev) => {
        st.pnid = ev.target.value;
        open("", "");
        refreshList().catch((e) => showError(e.message));
    });
    const receipts = $(".o-wa-emu-read-receipts");
    receipts.checked = localStorage.getItem(READ_KEY) !== "0";
    receipts.addEventListener("change", () => {
        localStorage.setItem(READ_KEY, receipts.checked ? "1" : "0");
        maybeRead();
    });
    document.addEventListener("visibilitychange", maybeRead);

    refreshList()
        .then(() => st.phone && open(st.phone, st.name))
        .catch((e) => showError(e.message))
        .finally(() => setTimeout(loop, 1000));
})();
