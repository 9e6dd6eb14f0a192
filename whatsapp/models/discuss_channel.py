"""WhatsApp chats in Discuss: one ``discuss.channel`` per customer number and account (``channel_type =
"whatsapp"``), and everything a chat does, the way ``im_livechat`` keeps livechat on the channel.

Inbound: the chat of a customer's message (created when needed), who is notified (routing below), the
message shown by kind (text, media, location, contacts, reactions, edits...). Outbound: an operator's post,
reaction or read receipt is sent to WhatsApp through the message queue, only inside the 24-hour window.

Routing (Meta: https://developers.facebook.com/docs/whatsapp/pricing#conversations)
-----------------------------------------------------------------------------------
For each new inbound message, at time ``t`` (Meta's timestamp, never in the future; templates dated up to
``CLOCK_SKEW`` after ``t`` count as sent before it, Meta's and Odoo's clocks being different clocks):

1. **Answer to a template**: a template was sent to this number from this account after the customer's
   previous message and less than 15 days before ``t`` -> the chat opens for the user who sent it (and the
   record's responsible, when the record has one); the answer is linked to the template's message and
   record, whose chatter gets a note with a link to the chat.
2. **Running conversation**: an operator posted in the chat, or a template was sent to the number, less
   than 15 days before ``t`` -> only the chat's members are notified (nobody is added).
3. Otherwise (a new customer, or 15 days without an answer) -> every notify user of the account joins.
"""

import logging
from datetime import UTC, datetime, timedelta

from markupsafe import Markup, escape
from odoo import Command, _lt, api, fields, models
from odoo.addons.mail.tools.discuss import Store
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import html2plaintext, plaintext2html

from ..tools import message_payloads, outbound_split
from ..tools.graph_errors import WhatsAppApiError

_logger = logging.getLogger(__name__)

#: Meta's customer service window (https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-messages#customer-service-windows)
WINDOW = timedelta(hours=24)
#: after this, a template no longer routes its answer and a conversation is no longer "running"
ROUTING_WINDOW = timedelta(days=15)
#: Meta's timestamp of a customer message and Odoo's date of a template come from two clocks: a quick answer
#: may carry a timestamp slightly older than the template it answers
CLOCK_SKEW = timedelta(minutes=2)
KIND_LABELS = {
    "image": _lt("Image"),
    "audio": _lt("Audio"),
    "voice": _lt("Voice message"),
    "video": _lt("Video"),
    "document": _lt("Document"),
    "sticker": _lt("Sticker"),
}


class DiscussChannel(models.Model):
    """WhatsApp chats (see the module docstring)."""

    _inherit = "discuss.channel"

    channel_type = fields.Selection(
        selection_add=[("whatsapp", "WhatsApp")], ondelete={"whatsapp": "cascade"}
    )
    whatsapp_account_id = fields.Many2one(
        "whatsapp.account", "WhatsApp Account", index="btree_not_null", ondelete="cascade", readonly=True
    )
    whatsapp_number = fields.Char("WhatsApp Number", readonly=True, help="The customer's number, E.164.")
    whatsapp_bsuid = fields.Char("WhatsApp User ID", readonly=True)
    whatsapp_partner_id = fields.Many2one(
        "res.partner", "WhatsApp Customer", readonly=True, ondelete="set null"
    )
    whatsapp_last_inbound = fields.Datetime("Last Customer Message", readonly=True)
    whatsapp_window_end = fields.Datetime("Window Ends", compute="_compute_whatsapp_window_end")
    whatsapp_last_operator_post = fields.Datetime("Last Operator Answer", readonly=True)

    _sql_constraints = [
        (
            "whatsapp_account_required",
            "CHECK(channel_type != 'whatsapp' OR whatsapp_account_id IS NOT NULL)",
            "A WhatsApp chat belongs to a WhatsApp account.",
        ),
    ]

    def init(self):  # pylint: disable=missing-return
        super().init()
        # one chat per customer number and account
        self.env.cr.execute(
            """CREATE UNIQUE INDEX IF NOT EXISTS discuss_channel_whatsapp_number_uniq
                   ON discuss_channel (whatsapp_account_id, whatsapp_number)
                WHERE channel_type = 'whatsapp' AND whatsapp_number IS NOT NULL"""
        )

    @api.depends("whatsapp_last_inbound")
    def _compute_whatsapp_window_end(self):
        for channel in self:
            channel.whatsapp_window_end = (
                channel.whatsapp_last_inbound and channel.whatsapp_last_inbound + WINDOW
            )

    def _whatsapp_window_open(self):
        self.ensure_one()
        return bool(self.whatsapp_window_end and fields.Datetime.now() < self.whatsapp_window_end)

    def _whatsapp_check_window(self):
        """:raise UserError: the 24-hour window is closed (nothing may be sent but a template)."""
        for channel in self.filtered(lambda c: c.channel_type == "whatsapp"):
            if not channel._whatsapp_window_open():
                raise UserError(
                    self.env._(
                        "The customer's last message is more than 24 hours old: WhatsApp only delivers "
                        'templates now. Use "Send a template" to reopen the conversation with %(name)s.',
                        name=channel.whatsapp_partner_id.display_name
                        or channel.whatsapp_number
                        or channel.name,
                    )
                )

    # ------------------------------------------------------------
    # STORE (what the web client knows)
    # ------------------------------------------------------------

    def _to_store(self, store: Store):  # pylint: disable=missing-return
        super()._to_store(store)
        for channel in self.filtered(lambda c: c.channel_type == "whatsapp"):
            store.add(channel, channel._whatsapp_store_values())

    def _whatsapp_store_values(self):
        self.ensure_one()
        return {
            "whatsapp_number": self.whatsapp_number or False,
            "whatsapp_window_end": fields.Datetime.to_string(self.whatsapp_window_end)
            if self.whatsapp_window_end
            else False,
            "whatsapp_partner": Store.one(self.whatsapp_partner_id, fields=["name"]),
            "whatsapp_account_name": self.whatsapp_account_id.sudo().name,  # sudo: name of the chat's account
        }

    def _whatsapp_bus_send_window(self):
        for channel in self:
            channel._bus_send_store(channel, channel._whatsapp_store_values())

    # ------------------------------------------------------------
    # INBOUND: one customer message into its chat
    # ------------------------------------------------------------

    @api.model
    def _whatsapp_receive(self, message, parsed):
        """Show one new inbound ``whatsapp.message`` in its chat, created when needed, and add the users
        the routing names (see the module docstring).

        :param message: the new inbound ``whatsapp.message`` (deduplicated on wamid, its values stored)
        :param parsed: its :class:`~..tools.inbound_parser.Inbound`
        :return: the chat (empty for a system message of an unknown number)
        """
        now = fields.Datetime.now()
        when = now
        if parsed.timestamp:
            when = min(datetime.fromtimestamp(parsed.timestamp, tz=UTC).replace(tzinfo=None), now)
        if parsed.kind == "system":
            return self._whatsapp_receive_system(message, parsed)
        number = message.number if message.number and message.number.startswith("+") else False
        partner = self.env["res.partner"]._whatsapp_find_or_create(
            number, parsed.bsuid, parsed.profile_name, companies=message.account_id.allowed_company_ids
        )
        channel = self._whatsapp_get_channel(message.account_id, number, parsed.bsuid, partner)
        # what is written below (the chat's context, placeholders, the record's note) is read by the company's
        # users: in its language, not the superuser's English the webhook runs in
        channel = channel.with_context(lang=message.account_id._whatsapp_company_lang())
        answered, users = channel._whatsapp_route(number, when)
        channel.write(
            {
                "whatsapp_last_inbound": max(channel.whatsapp_last_inbound or when, when),
                "whatsapp_bsuid": parsed.bsuid or channel.whatsapp_bsuid,
                "last_interest_dt": now,
            }
        )
        message.write({"model": channel._name, "res_id": channel.id})
        if users:
            # added by the routing, invited by nobody: as the public user, Discuss opens the chat for them
            # without a "You have been invited to #<customer>" toast from the webhook's superuser; sudo: the
            # public user only stands for "nobody", the routing decided who joins
            channel.with_user(self.env.ref("base.public_user")).sudo()._add_members(
                users=users, open_chat_window=True, post_joined_message=False
            )
        if answered:
            channel._whatsapp_post_answer_context(answered)
        chat = channel.with_context(whatsapp_inbound=True)
        if parsed.kind == "reaction":
            chat._whatsapp_receive_reaction(partner, message, parsed)
        elif parsed.kind in ("edit", "delete"):
            chat._whatsapp_receive_change(partner, message, parsed)
        else:
            chat._whatsapp_post_inbound(partner, message, parsed)
        if answered:
            channel._whatsapp_link_answer(message, answered)
        channel._whatsapp_bus_send_window()
        return channel

    @api.model
    def _whatsapp_get_channel(self, account, number, bsuid, partner):
        """The chat of this customer on ``account`` (one per number), created when needed."""
        Channel = self.with_context(active_test=False)
        channel = Channel.browse()
        if number:
            channel = Channel.search(
                [
                    ("channel_type", "=", "whatsapp"),
                    ("whatsapp_account_id", "=", account.id),
                    ("whatsapp_number", "=", number),
                ],
                limit=1,
            )
        if not channel and bsuid:
            channel = Channel.search(
                [
                    ("channel_type", "=", "whatsapp"),
                    ("whatsapp_account_id", "=", account.id),
                    ("whatsapp_bsuid", "=", bsuid),
                ],
                limit=1,
            )
        if channel:
            if not channel.active:
                channel.active = True
            if number and not channel.whatsapp_number:
                # met by user id first (a WhatsApp username): Meta now gives the number too, same chat
                channel.write(
                    {
                        "whatsapp_number": number,
                        "name": self._whatsapp_channel_name(partner, number),
                        "description": number,
                    }
                )
            return channel
        # created by nobody (the public user; sudo: it only stands for "nobody"): Discuss makes the creator a
        # member, and the webhook runs as the superuser, i.e. OdooBot; a customer chat has the customer and the
        # users the routing adds
        channel = (
            Channel.with_user(self.env.ref("base.public_user"))
            .sudo()
            .create(
                {
                    "name": self._whatsapp_channel_name(partner, number or bsuid),
                    "description": number or bsuid,
                    "channel_type": "whatsapp",
                    "whatsapp_account_id": account.id,
                    "whatsapp_number": number,
                    "whatsapp_bsuid": bsuid,
                    "whatsapp_partner_id": partner.id,
                    "channel_member_ids": [Command.create({"partner_id": partner.id})],
                }
            )
        )
        return channel.with_env(Channel.env)

    @api.model
    def _whatsapp_channel_name(self, partner, number):
        """The customer's name, as the sidebar shows it (the number is the chat's description, shown in its
        header; chats are found by number through ``whatsapp_number``)."""
        return partner.name or number or "WhatsApp"

    def _whatsapp_route(self, number, when):
        """Who must be notified of a message of this chat received at ``when`` (see the module docstring).

        :return: ``(answered template whatsapp.message or empty, res.users to add to the chat)``
        """
        self.ensure_one()
        account = self.whatsapp_account_id
        limit = when - ROUTING_WINDOW
        latest = when + CLOCK_SKEW
        Message = self.env["whatsapp.message"]
        answered = Message.browse()
        # the customer's number, else their user id (a customer known by a WhatsApp username)
        recipient = ("number", "=", number) if number else ("bsuid", "=", self.whatsapp_bsuid or False)
        if recipient[2]:
            domain = [
                ("account_id", "=", account.id),
                recipient,
                ("direction", "=", "outbound"),
                ("template_id", "!=", False),
                ("queued_date", ">=", limit),
                ("queued_date", "<=", latest),
                ("state", "not in", ("failed", "bounced", "cancelled")),
            ]
            if self.whatsapp_last_inbound:
                domain.append(("queued_date", ">", self.whatsapp_last_inbound))
            answered = Message.search(domain, order="queued_date desc, id desc", limit=1)
        Users = self.env["res.users"]
        if answered:
            return answered, self._whatsapp_template_users(answered)
        last_template = recipient[2] and Message.search(
            [
                ("account_id", "=", account.id),
                recipient,
                ("direction", "=", "outbound"),
                ("template_id", "!=", False),
                ("queued_date", "<=", latest),
            ],
            order="queued_date desc, id desc",
            limit=1,
        )
        last_activity = max(
            filter(None, [self.whatsapp_last_operator_post, last_template and last_template.queued_date]),
            default=None,
        )
        if last_activity and last_activity >= limit:
            return answered, Users
        users = account.notify_user_ids.filtered(lambda u: u.active and not u.share)
        return answered, users

    def _whatsapp_template_users(self, template_message):
        """The user who sent the template, and the responsible of its record when it has one."""
        users = template_message.create_uid
        if template_message.model and template_message.res_id and template_message.model in self.env:
            record = self.env[template_message.model].browse(template_message.res_id).exists()
            if (
                record
                and "user_id" in record._fields
                and record._fields["user_id"].comodel_name == "res.users"
            ):
                users |= record.user_id
        users = users.filtered(lambda u: u.active and not u.share and not u._is_superuser())
        return users or self.whatsapp_account_id.notify_user_ids.filtered(lambda u: u.active and not u.share)

    def _whatsapp_post_answer_context(self, template_message):
        """A notification in the chat, before the customer's answer: which template, sent from which record
        (a link to it), the customer is answering."""
        self.ensure_one()
        template = template_message.template_id.name or ""
        record = None
        if template_message.model and template_message.res_id and template_message.model in self.env:
            record = self.env[template_message.model].browse(template_message.res_id).exists()
        if record:
            link = Markup('<a href="/odoo/%s/%s" data-oe-model="%s" data-oe-id="%s">%s</a>') % (
                record._name,
                record.id,
                record._name,
                record.id,
                record.display_name,
            )
            body = Markup("%s %s") % (
                self.env._("answers “%(template)s”, sent from", template=template),
                link,
            )
        else:
            body = self.env._("answers “%(template)s”", template=template)
        # shown as "<customer> answers “Sales: Quotation”, sent from S00042" (Discuss prefixes the author);
        # silent: context in the chat, not a toast of its own (the customer's answer right after it is one)
        self.with_context(whatsapp_inbound=True).message_post(
            author_id=self.whatsapp_partner_id.id,
            body=body,
            message_type="notification",
            subtype_xmlid="mail.mt_note",
            silent=True,
        )

    def _whatsapp_link_answer(self, message, template_message):
        """Link the answer to its template message and record; note in the record's chatter."""
        message.whatsapp_answered_message_id = template_message
        if not (template_message.model and template_message.res_id and template_message.model in self.env):
            return
        record = self.env[template_message.model].browse(template_message.res_id).exists()
        if not record or not hasattr(record, "message_post"):
            return
        link = Markup('<a href="/odoo/action-mail.action_discuss?active_id=discuss.channel_%s">%s</a>') % (
            self.id,
            self.env._("open the chat"),
        )
        record.message_post(
            body=Markup("%s %s")
            % (
                self.env._(
                    "The customer answered the WhatsApp template “%(template)s”:",
                    template=template_message.template_id.name or "",
                ),
                link,
            ),
            message_type="comment",
            subtype_xmlid="mail.mt_note",
            author_id=self.whatsapp_partner_id.id,
        )
        self._whatsapp_bus_send_thread_update(record)

    @api.model
    def _whatsapp_bus_send_thread_update(self, record):
        """Tell the web clients that the chatter of ``record`` has new messages: a form view showing it
        fetches them (with its user's rights), live. The note is posted by the webhook (as superuser) and
        notifies nobody, so mail pushes nothing to whoever has the record open. Sent to the internal users
        (their clients subscribe to their groups); the payload only names the record."""
        # sudo: bus target only (the group of internal users)
        self.env["bus.bus"].sudo()._sendone(
            self.env.ref("base.group_user").sudo(),
            "whatsapp/thread_update",
            {"model": record._name, "id": record.id},
        )

    # ------------------------------------------------------------
    # INBOUND: message kinds (called on the chat with context whatsapp_inbound)
    # ------------------------------------------------------------

    def _whatsapp_post_inbound(self, partner, message, parsed):
        parent = self._whatsapp_message_by_wamid(parsed.context_id)
        mail_message = self.message_post(
            author_id=partner.id,
            body=self._whatsapp_inbound_body(parsed),
            message_type="whatsapp_message",
            subtype_xmlid="mail.mt_comment",
            parent_id=parent.id or False,
        )
        message.mail_message_id = mail_message
        return mail_message

    def _whatsapp_message_by_wamid(self, wamid):
        """The chat message of a WhatsApp message (ours or the customer's) by Meta id, in this chat."""
        if not wamid:
            return self.env["mail.message"]
        target = self.env["whatsapp.message"].search([("wamid", "=", wamid)], limit=1).mail_message_id
        if target.model == self._name and target.res_id == self.id:
            return target
        return self.env["mail.message"]

    def _whatsapp_receive_reaction(self, partner, message, parsed):
        """Put (or remove) the customer's reaction on the right message; WhatsApp keeps one per person."""
        target = self._whatsapp_message_by_wamid(parsed.target_id)
        if not target:
            if parsed.emoji:
                parsed.text = self.env._(
                    "Reacted %(emoji)s to a message not found in this chat.", emoji=parsed.emoji
                )
                parsed.kind = "reaction_orphan"
                self._whatsapp_post_inbound(partner, message, parsed)
            return
        target = target.with_context(whatsapp_inbound=True)
        reactions = self.env["mail.message.reaction"].search(
            [("message_id", "=", target.id), ("partner_id", "=", partner.id)]
        )
        for content in set(reactions.mapped("content")) - {parsed.emoji}:
            target._message_reaction(content, "remove", partner, self.env["mail.guest"])
        if parsed.emoji:
            target._message_reaction(parsed.emoji, "add", partner, self.env["mail.guest"])

    def _whatsapp_receive_change(self, partner, message, parsed):
        """An edit or a deletion by the customer of one of their messages."""
        target = self._whatsapp_message_by_wamid(parsed.target_id)
        if not target or target.author_id != partner:
            parsed.kind, parsed.unsupported_type = "unsupported", parsed.kind
            return self._whatsapp_post_inbound(partner, message, parsed)
        if parsed.kind == "edit":
            body = self._whatsapp_text_html(parsed.text) + Markup("<span class='o-mail-Message-edited'/>")
            target.write({"body": body})
        else:
            target.write(
                {
                    "body": self._whatsapp_italic(self.env._("This message was deleted by the customer.")),
                    "attachment_ids": [(5, 0, 0)],
                }
            )
        self._bus_send_store(target, fields=["body", "attachment_ids"])
        return target

    @api.model
    def _whatsapp_receive_system(self, message, parsed):
        """``system`` messages: a number change moves the partner and the chat to the new number, and to the
        new user id Meta issues with it (the conversation goes on, also for a customer known by user id only)."""
        account = message.account_id
        system = parsed.system or {}
        old_number = message.number if message.number and message.number.startswith("+") else False
        old_bsuid = parsed.bsuid
        channel = self.browse()
        for field, value in (("whatsapp_number", old_number), ("whatsapp_bsuid", old_bsuid)):
            if value and not channel:
                channel = self.search(
                    [
                        ("channel_type", "=", "whatsapp"),
                        ("whatsapp_account_id", "=", account.id),
                        (field, "=", value),
                    ],
                    limit=1,
                )
        new_number = system.get("new_wa_id") and account._phone_format(number="+" + system["new_wa_id"])
        if system.get("type") == "user_changed_number" and new_number and old_number:
            partners = self.env["res.partner"].search([("phone_sanitized", "=", old_number)])
            for partner in partners:
                field = (
                    "mobile"
                    if partner.mobile and partner._phone_format(number=partner.mobile) == old_number
                    else "phone"
                )
                partner[field] = new_number
            if channel and not self.search_count(
                [
                    ("channel_type", "=", "whatsapp"),
                    ("whatsapp_account_id", "=", account.id),
                    ("whatsapp_number", "=", new_number),
                ]
            ):
                channel.write(
                    {
                        "whatsapp_number": new_number,
                        "name": self._whatsapp_channel_name(channel.whatsapp_partner_id, new_number),
                        "description": new_number,
                    }
                )
        new_bsuid = system.get("new_bsuid")
        if new_bsuid and new_bsuid != old_bsuid:
            domains = [[("phone_sanitized", "=", n)] for n in (new_number, old_number) if n]
            if old_bsuid:
                domains.append([("whatsapp_bsuid", "=", old_bsuid)])
            if domains:
                self.env["res.partner"].search(expression.OR(domains)).write({"whatsapp_bsuid": new_bsuid})
            if channel:
                channel.whatsapp_bsuid = new_bsuid
        if channel:
            message.write({"model": channel._name, "res_id": channel.id})
            message.mail_message_id = channel.with_context(whatsapp_inbound=True).message_post(
                body=self._whatsapp_italic(parsed.text or system.get("type") or ""),
                message_type="notification",
                subtype_xmlid="mail.mt_note",
            )
        return channel

    # ------------------------------------------------------------
    # POSTING
    # ------------------------------------------------------------

    @api.returns("mail.message", lambda value: value.id)
    def message_post(self, *, message_type="notification", **kwargs):
        if (
            self.channel_type != "whatsapp"
            or self.env.context.get("whatsapp_inbound")
            or message_type != "comment"
        ):
            return super().message_post(message_type=message_type, **kwargs)
        # refused before anything is created: no message in the chat, nothing queued for Meta
        self._whatsapp_check_window()
        message = super().message_post(message_type=message_type, **kwargs)
        self._whatsapp_send_post(message)
        return message

    def _whatsapp_send_post(self, message):
        """Queue the WhatsApp messages of an operator's post: text, files (split), quoted reply."""
        self.ensure_one()
        # sudo: operators post in the chat; the queue and its technical fields are the sending engine's
        Message = self.env["whatsapp.message"].sudo()
        attachments = message.attachment_ids.sorted("id")
        text = html2plaintext(message.body or "").strip() if message.body else ""
        parts = outbound_split.split_post(
            text,
            [(att, att.mimetype, att.name) for att in attachments.sudo()],  # sudo: file metadata
        )
        context_wamid = (
            message.parent_id
            and Message.search(
                [("mail_message_id", "=", message.parent_id.id), ("wamid", "!=", False)], limit=1
            ).wamid
        )
        vals_list = []
        for index, part in enumerate(parts):
            vals = {
                "account_id": self.whatsapp_account_id.id,
                "number": self.whatsapp_number,
                "bsuid": self.whatsapp_bsuid,
                "mail_message_id": message.id,
                "model": self._name,
                "res_id": self.id,
            }
            reply_to = context_wamid if index == 0 else None
            if part["type"] == "text":
                vals["body"] = part["text"]
                vals["payload"] = message_payloads.text(part["text"], reply_to=reply_to)
            else:
                attachment = part["file"]
                kind = part["type"]
                vals.update(
                    body=part["caption"] or attachment.name,
                    header_type=kind,
                    header_attachment_id=attachment.id,
                    header_cache_key=f"attachment:{attachment.sudo().checksum}:{attachment.mimetype}",
                    payload=message_payloads.media(
                        kind, filename=part["filename"], caption=part["caption"], reply_to=reply_to
                    ),
                )
            vals_list.append(vals)
        if not vals_list:
            return Message
        messages = Message.create(vals_list)
        self.sudo().whatsapp_last_operator_post = fields.Datetime.now()  # sudo: technical routing date
        self.env.ref("whatsapp.ir_cron_whatsapp_message_queue")._trigger()
        message._whatsapp_bus_send_status()
        return messages

    def _whatsapp_send_reaction(self, message, emoji):
        """Send (or remove, with ``""``) the business's reaction to a message of this chat."""
        self.ensure_one()
        # sudo: see _whatsapp_send_post
        target = (
            self.env["whatsapp.message"]
            .sudo()
            .search([("mail_message_id", "=", message.id), ("wamid", "!=", False)], order="id", limit=1)
        )
        if not target:
            return False
        self._whatsapp_check_window()
        reaction = (
            self.env["whatsapp.message"]
            .sudo()
            .create(
                {
                    "account_id": self.whatsapp_account_id.id,
                    "number": self.whatsapp_number,
                    "bsuid": self.whatsapp_bsuid,
                    "body": emoji,
                    "model": self._name,
                    "res_id": self.id,
                    "payload": message_payloads.reaction(target.wamid, emoji),
                }
            )
        )
        self.env.ref("whatsapp.ir_cron_whatsapp_message_queue")._trigger()
        return reaction

    def _whatsapp_mark_read(self, last_message_id):
        """Tell WhatsApp the customer's messages up to ``last_message_id`` were read (blue ticks).

        Meta marks every earlier message read with the latest one: one call per read.
        """
        self.ensure_one()
        # sudo: the reader is an operator; read receipts are technical fields of inbound messages
        unread = (
            self.env["whatsapp.message"]
            .sudo()
            .search(
                [
                    ("model", "=", self._name),
                    ("res_id", "=", self.id),
                    ("direction", "=", "inbound"),
                    ("whatsapp_read_sent", "=", False),
                    ("wamid", "!=", False),
                    ("mail_message_id", "<=", last_message_id),
                ],
                order="id desc",
            )
        )
        if not unread:
            return
        try:
            self.whatsapp_account_id._get_client().mark_read(unread[0].wamid)
        except WhatsAppApiError as error:
            _logger.warning("WhatsApp chat %s: mark as read failed: %s", self.id, error)
            return
        unread.write({"whatsapp_read_sent": True})

    # ------------------------------------------------------------
    # RENDERING: the HTML of a chat message, for each kind of inbound message
    # ------------------------------------------------------------

    @api.model
    def _whatsapp_italic(self, text):
        return Markup('<p><i class="o_whatsapp_notice">%s</i></p>') % text

    @api.model
    def _whatsapp_text_html(self, text):
        return plaintext2html(text) if text else Markup()

    @api.model
    def _whatsapp_kind_label(self, kind, voice=False):
        return str(KIND_LABELS["voice" if voice else kind]) if kind in KIND_LABELS else kind

    @api.model
    def _whatsapp_inbound_body(self, parsed):
        """HTML body of the chat message for one parsed inbound message (never empty)."""
        kind = parsed.kind
        parts = []
        if parsed.forwarded:
            parts.append(self._whatsapp_italic(self.env._("Forwarded")))
        if kind in ("text", "reaction_orphan"):
            parts.append(self._whatsapp_text_html(parsed.text))
        elif parsed.is_media:
            label = self._whatsapp_kind_label(kind, parsed.media.get("voice"))
            parts.append(self._whatsapp_media_placeholder(label, parsed.media.get("filename"), pending=True))
            parts.append(self._whatsapp_text_html(parsed.text))
        elif kind == "location":
            parts.append(self._whatsapp_location_html(parsed.location))
        elif kind == "contacts":
            parts.append(self._whatsapp_contacts_html(parsed.contacts))
        elif kind in ("button", "interactive"):
            parts.append(
                Markup('<p><span class="o_whatsapp_reply">%s</span> <b>%s</b></p>')
                % (self.env._("Replied:"), parsed.text)
            )
        elif kind == "order":
            parts.append(self._whatsapp_order_html(parsed.order))
        elif kind == "request_welcome":
            parts.append(self._whatsapp_italic(self.env._("The customer opened the chat.")))
        else:
            parts.append(self._whatsapp_unsupported_html(parsed))
        if parsed.referral:
            referral = parsed.referral
            parts.append(
                self._whatsapp_italic(
                    self.env._(
                        "From an ad: %(headline)s %(body)s %(url)s",
                        headline=referral.get("headline") or "",
                        body=referral.get("body") or "",
                        url=referral.get("source_url") or "",
                    )
                )
            )
        body = Markup("").join(p for p in parts if p)
        return body or self._whatsapp_unsupported_html(parsed)

    @api.model
    def _whatsapp_media_placeholder(self, label, filename=None, pending=True, failed=False):
        if failed:
            text = self.env._("%(kind)s could not be downloaded from WhatsApp.", kind=label)
        else:
            text = self.env._("%(kind)s: downloading…", kind=label)
        if filename:
            text = f"{text} ({filename})"
        css = "o_whatsapp_media_failed" if failed else "o_whatsapp_media_pending"
        return Markup('<p><i class="%s">%s</i></p>') % (css, text)

    @api.model
    def _whatsapp_media_body(self, message, done=True):
        """Body of a media message once its file arrived (caption only) or failed for good."""
        caption = ((message.payload or {}).get(message.whatsapp_kind) or {}).get("caption") or ""
        text = self._whatsapp_text_html(caption)
        if done:
            return text
        voice = ((message.payload or {}).get(message.whatsapp_kind) or {}).get("voice")
        label = self._whatsapp_kind_label(message.whatsapp_kind, voice)
        return self._whatsapp_media_placeholder(label, message.media_filename, failed=True) + text

    @api.model
    def _whatsapp_location_html(self, location):
        name = location.get("name") or self.env._("Location")
        lines = [
            Markup('📍 <a href="%s" target="_blank" rel="noopener">%s</a>')
            % (location.get("map_url") or "#", name)
        ]
        if location.get("address"):
            lines.append(escape(location["address"]))
        if location.get("url"):
            lines.append(
                Markup('<a href="%s" target="_blank" rel="noopener">%s</a>')
                % (location["url"], location["url"])
            )
        return Markup('<p class="o_whatsapp_location">%s</p>') % Markup("<br/>").join(lines)

    @api.model
    def _whatsapp_contacts_html(self, contacts):
        cards = []
        for contact in contacts:
            lines = [Markup("<b>%s</b>") % (contact.get("name") or "?")]
            if contact.get("org"):
                lines.append(escape(contact["org"]))
            lines += [escape(p["phone"] or ("+" + p["wa_id"])) for p in contact.get("phones") or []]
            lines += [escape(email) for email in contact.get("emails") or []]
            cards.append(
                Markup('<div class="o_whatsapp_contact border rounded p-2 mb-1">%s</div>')
                % Markup("<br/>").join(lines)
            )
        header = self._whatsapp_italic(self.env._("Shared contact(s):"))
        return header + Markup("").join(cards)

    @api.model
    def _whatsapp_order_html(self, order):
        rows = Markup("").join(
            Markup("<li>%s × %s — %s %s</li>")
            % (item["quantity"], item["product"], item["price"], item["currency"])
            for item in order.get("items") or []
        )
        totals = ", ".join(
            f"{amount:g} {currency}" for currency, amount in (order.get("totals") or {}).items()
        )
        html = Markup("<p><b>%s</b></p><ul>%s</ul><p>%s</p>") % (
            self.env._("Order (catalog %(catalog)s)", catalog=order.get("catalog_id") or "?"),
            rows,
            self.env._("Total: %(total)s", total=totals or "0"),
        )
        if order.get("text"):
            html += self._whatsapp_text_html(order["text"])
        return html

    @api.model
    def _whatsapp_unsupported_html(self, parsed):
        kind = parsed.unsupported_type or parsed.kind
        text = self.env._("The customer sent a message WhatsApp cannot deliver here (%(kind)s).", kind=kind)
        if parsed.error:
            text = self.env._(
                "%(text)s WhatsApp says: %(title)s %(details)s (error %(code)s)",
                text=text,
                title=parsed.error.get("title") or "",
                details=parsed.error.get("details") or "",
                code=parsed.error.get("code") or "?",
            )
        body = Markup('<p><i class="o_whatsapp_unsupported">⚠ %s</i></p>') % text
        if parsed.text:
            body += self._whatsapp_text_html(parsed.text)
        return body
