import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";
import { Component, onWillStart, status, useState } from "@odoo/owl";
import { openWhatsAppComposer } from "@whatsapp/core/availability_service";

/** WhatsApp icon beside a phone field: opens the composer for the record, with that number. */
export class SendWhatsAppButton extends Component {
    static template = "whatsapp.SendWhatsAppButton";
    static props = ["*"];

    setup() {
        this.action = useService("action");
        this.availability = useService("whatsapp.availability");
        this.title = _t("Send WhatsApp");
        this.state = useState({ available: false });
        onWillStart(() => {
            // not awaited: the field renders at once, the icon appears when the answer is known
            this.availability.canSend(this.props.record.resModel).then((available) => {
                if (status(this) !== "destroyed") {
                    this.state.available = available;
                }
            });
        });
    }

    async onClick() {
        if (!(await this.props.record.save())) {
            return;
        }
        await openWhatsAppComposer(this.action, {
            resModel: this.props.record.resModel,
            resIds: [this.props.record.resId],
            numberFieldName: this.props.name,
            onClose: () => {
                if (status(this) !== "destroyed") {
                    this.props.record.load();
                }
            },
        });
    }
}
