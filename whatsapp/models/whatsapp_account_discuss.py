"""Inbound messages into Discuss: the customer's partner, the chat, the 15-day routing, every message type.

Routing (seed: "company-initiated / customer-initiated", "Notifications")
-------------------------------------------------------------------------
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

from markupsafe import Markup
from odoo import api, fields, models

from ..tools.inbound_parser import parse_message

_logger = logging.getLogger(__name__)

#: after this, a template no longer routes its answer and a conversation is no longer "running"
ROUTING_WINDOW = timedelta(days=15)
#: Meta's timestamp of a customer message and Odoo's date of a template come from two clocks: a quick answer
#: may carry a timestamp slightly older than the template it answers
CLOCK_SKEW = timedelta(minutes=2)


class WhatsAppAccount(models.Model):
    _inherit = "whatsapp.account"

    def _whatsapp_process_inbound(self, value):
        inbound = super()._whatsapp_process_inbound(value)
        if not inbound:
            return inbound
        items = {m["id"]: m for m in value.get("messages") or [] if isinstance(m, dict) and m.get("id")}
        contacts = value.get("contacts") or []
        parsed = [(parse_message(items[m.wamid], contacts), m) for m in inbound if m.wamid in items]
        # Meta does not guarantee order: handle a batch oldest first
        parsed.sort(key=lambda pair: (pair[0].timestamp or 0, pair[1].id))
        for item, message in parsed:
            self._wa_receive(message, item, items[message.wamid])
        if inbound.filtered(lambda m: m.media_state == "pending"):
            self.env["whatsapp.message"]._wa_schedule_media_cron(asap=True)
        return inbound

    # ------------------------------------------------------------
    # RECEIVE ONE MESSAGE
    # ------------------------------------------------------------

    def _wa_receive(self, message, parsed, raw):
        """Show one new inbound ``whatsapp.message`` in its chat.

        :param message: the ``whatsapp.message`` created by the sending engine (deduplicated on wamid)
        :param parsed: its :class:`~..tools.inbound_parser.Inbound`
        :param dict raw: Meta's message object
        """
        self.ensure_one()
        now = fields.Datetime.now()
        when = now
        if parsed.timestamp:
            when = min(datetime.fromtimestamp(parsed.timestamp, tz=UTC).replace(tzinfo=None), now)
        number = message.number if message.number and message.number.startswith("+") else False
        values = {"wa_kind": parsed.kind, "payload": raw}
        if parsed.is_media:
            values.update(
                media_uid=parsed.media["id"],
                media_mimetype=parsed.media["mime_type"],
                media_filename=parsed.media["filename"],
                media_state="pending",
            )
        message.write(values)
        if parsed.kind == "system":
            return self._wa_receive_system(message, parsed)
        partner = self.env["res.partner"]._wa_find_or_create(number, parsed.bsuid, parsed.profile_name)
        channel = self._wa_get_channel(number, parsed.bsuid, partner)
        answered, users = self._wa_route(channel, number, when)
        channel.write(
            {
                "wa_last_inbound": max(channel.wa_last_inbound or when, when),
                "wa_bsuid": parsed.bsuid or channel.wa_bsuid,
                "last_interest_dt": now,
            }
        )
        message.write({"model": channel._name, "res_id": channel.id})
        if users:
            channel._add_members(users=users, open_chat_window=True, post_joined_message=False)
        Channel = channel.with_context(wa_inbound=True)
        if parsed.kind == "reaction":
            self._wa_receive_reaction(Channel, partner, message, parsed)
        elif parsed.kind in ("edit", "delete"):
            self._wa_receive_change(Channel, partner, message, parsed)
        else:
            self._wa_post_inbound(Channel, partner, message, parsed)
        if answered:
            self._wa_link_answer(channel, message, answered)
        channel._wa_bus_send_window()
        return channel

    def _wa_get_channel(self, number, bsuid, partner):
        """The chat of this customer on this account (one per number), created when needed."""
        Channel = self.env["discuss.channel"].with_context(active_test=False)
        channel = Channel.browse()
        if number:
            channel = Channel.search(
                [
                    ("channel_type", "=", "whatsapp"),
                    ("wa_account_id", "=", self.id),
                    ("wa_number", "=", number),
                ],
                limit=1,
            )
        if not channel and bsuid:
            channel = Channel.search(
                [
                    ("channel_type", "=", "whatsapp"),
                    ("wa_account_id", "=", self.id),
                    ("wa_bsuid", "=", bsuid),
                ],
                limit=1,
            )
        if channel:
            if not channel.active:
                channel.active = True
            return channel
        channel = Channel.create(
            {
                "name": self._wa_channel_name(partner, number or bsuid),
                "channel_type": "whatsapp",
                "wa_account_id": self.id,
                "wa_number": number,
                "wa_bsuid": bsuid,
                "wa_partner_id": partner.id,
            }
        )
        channel._add_members(partners=partner, post_joined_message=False)
        return channel

    @api.model
    def _wa_channel_name(self, partner, number):
        """Chats are found by name or number in Discuss: both are in the name."""
        name = partner.name or ""
        return f"{name} ({number})" if number and name and name != number else (name or number or "WhatsApp")

    def _wa_route(self, channel, number, when):
        """Who must be notified of a message received at ``when`` (see the module docstring).

        :return: ``(answered template whatsapp.message or empty, res.users to add to the chat)``
        """
        limit = when - ROUTING_WINDOW
        latest = when + CLOCK_SKEW
        Message = self.env["whatsapp.message"]
        answered = Message.browse()
        if number:
            domain = [
                ("account_id", "=", self.id),
                ("number", "=", number),
                ("direction", "=", "outbound"),
                ("template_id", "!=", False),
                ("queued_date", ">=", limit),
                ("queued_date", "<=", latest),
                ("state", "not in", ("failed", "bounced", "cancelled")),
            ]
            if channel.wa_last_inbound:
                domain.append(("queued_date", ">", channel.wa_last_inbound))
            answered = Message.search(domain, order="queued_date desc, id desc", limit=1)
        Users = self.env["res.users"]
        if answered:
            return answered, self._wa_template_users(answered)
        last_template = number and Message.search(
            [
                ("account_id", "=", self.id),
                ("number", "=", number),
                ("direction", "=", "outbound"),
                ("template_id", "!=", False),
                ("queued_date", "<=", latest),
            ],
            order="queued_date desc, id desc",
            limit=1,
        )
        last_activity = max(
            filter(None, [channel.wa_last_operator_post, last_template and last_template.queued_date]),
            default=None,
        )
        if last_activity and last_activity >= limit:
            return answered, Users
        users = self.notify_user_ids.filtered(lambda u: u.active and not u.share)
        return answered, users

    def _wa_template_users(self, template_message):
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
        return users or self.notify_user_ids.filtered(lambda u: u.active and not u.share)

    def _wa_link_answer(self, channel, message, template_message):
        """Link the answer to its template message and record; note in the record's chatter."""
        message.wa_answered_message_id = template_message
        if not (template_message.model and template_message.res_id and template_message.model in self.env):
            return
        record = self.env[template_message.model].browse(template_message.res_id).exists()
        if not record or not hasattr(record, "message_post"):
            return
        link = Markup('<a href="/odoo/action-mail.action_discuss?active_id=discuss.channel_%s">%s</a>') % (
            channel.id,
            channel.name,
        )
        record.message_post(
            body=Markup("%s %s")
            % (
                self.env._(
                    "The customer answered the WhatsApp template %(template)s:",
                    template=template_message.template_id.name or "",
                ),
                link,
            ),
            message_type="comment",
            subtype_xmlid="mail.mt_note",
            author_id=channel.wa_partner_id.id,
        )

    # ------------------------------------------------------------
    # MESSAGE TYPES
    # ------------------------------------------------------------

    def _wa_post_inbound(self, channel, partner, message, parsed):
        parent = self._wa_message_by_wamid(channel, parsed.context_id)
        mail_message = channel.message_post(
            author_id=partner.id,
            body=self._wa_inbound_body(parsed),
            message_type="whatsapp_message",
            subtype_xmlid="mail.mt_comment",
            parent_id=parent.id or False,
        )
        message.mail_message_id = mail_message
        return mail_message

    def _wa_message_by_wamid(self, channel, wamid):
        """The chat message of a WhatsApp message (ours or the customer's) by Meta id, in this chat."""
        if not wamid:
            return self.env["mail.message"]
        target = self.env["whatsapp.message"].search([("wamid", "=", wamid)], limit=1).mail_message_id
        if target.model == channel._name and target.res_id == channel.id:
            return target
        return self.env["mail.message"]

    def _wa_receive_reaction(self, channel, partner, message, parsed):
        """Put (or remove) the customer's reaction on the right message; WhatsApp keeps one per person."""
        target = self._wa_message_by_wamid(channel, parsed.target_id)
        if not target:
            if parsed.emoji:
                parsed.text = self.env._(
                    "Reacted %(emoji)s to a message not found in this chat.", emoji=parsed.emoji
                )
                parsed.kind = "reaction_orphan"
                self._wa_post_inbound(channel, partner, message, parsed)
            return
        target = target.with_context(wa_inbound=True)
        reactions = self.env["mail.message.reaction"].search(
            [("message_id", "=", target.id), ("partner_id", "=", partner.id)]
        )
        for content in set(reactions.mapped("content")) - {parsed.emoji}:
            target._message_reaction(content, "remove", partner, self.env["mail.guest"])
        if parsed.emoji:
            target._message_reaction(parsed.emoji, "add", partner, self.env["mail.guest"])

    def _wa_receive_change(self, channel, partner, message, parsed):
        """An edit or a deletion by the customer of one of their messages."""
        target = self._wa_message_by_wamid(channel, parsed.target_id)
        if not target or target.author_id != partner:
            parsed.kind, parsed.unsupported_type = "unsupported", parsed.kind
            return self._wa_post_inbound(channel, partner, message, parsed)
        if parsed.kind == "edit":
            body = self._wa_text_html(parsed.text) + Markup("<span class='o-mail-Message-edited'/>")
            target.write({"body": body})
        else:
            target.write(
                {
                    "body": self._wa_italic(self.env._("This message was deleted by the customer.")),
                    "attachment_ids": [(5, 0, 0)],
                }
            )
        channel._bus_send_store(target, fields=["body", "attachment_ids"])
        return target

    def _wa_receive_system(self, message, parsed):
        """``system`` messages: a number change moves the partner and the chat to the new number."""
        system = parsed.system or {}
        old_number = message.number if message.number and message.number.startswith("+") else False
        channel = (
            self.env["discuss.channel"].search(
                [
                    ("channel_type", "=", "whatsapp"),
                    ("wa_account_id", "=", self.id),
                    ("wa_number", "=", old_number),
                ],
                limit=1,
            )
            if old_number
            else self.env["discuss.channel"]
        )
        new_number = system.get("new_wa_id") and self._phone_format(number="+" + system["new_wa_id"])
        if system.get("type") == "user_changed_number" and new_number and old_number:
            partners = self.env["res.partner"].search([("phone_sanitized", "=", old_number)])
            for partner in partners:
                field = (
                    "mobile"
                    if partner.mobile and partner._phone_format(number=partner.mobile) == old_number
                    else "phone"
                )
                partner[field] = new_number
            if channel and not self.env["discuss.channel"].search_count(
                [
                    ("channel_type", "=", "whatsapp"),
                    ("wa_account_id", "=", self.id),
                    ("wa_number", "=", new_number),
                ]
            ):
                channel.write(
                    {
                        "wa_number": new_number,
                        "name": self._wa_channel_name(channel.wa_partner_id, new_number),
                    }
                )
        if system.get("new_bsuid"):
            self.env["res.partner"].search([("phone_sanitized", "=", new_number or old_number)]).write(
                {"wa_bsuid": system["new_bsuid"]}
            )
        if channel:
            message.write({"model": channel._name, "res_id": channel.id})
            message.mail_message_id = channel.with_context(wa_inbound=True).message_post(
                body=self._wa_italic(parsed.text or system.get("type") or ""),
                message_type="notification",
                subtype_xmlid="mail.mt_note",
            )
        return channel
