import { Chatter } from "@mail/chatter/web_portal/chatter";
import { patch } from "@web/core/utils/patch";
import { useService } from "@web/core/utils/hooks";
import { onWillUpdateProps, status } from "@odoo/owl";
import { openWhatsAppComposer } from "@whatsapp/core/availability_service";

/** A "WhatsApp" button in the chatter's top bar, shown when the user may send a template of the model. */
patch(Chatter.prototype, {
    setup() {
        super.setup(...arguments);
        this.whatsappAvailability = useService("whatsapp.availability");
        this.whatsappAction = useService("action");
        this.state.canSendWhatsApp = false;
        this._whatsappCheck(this.props.threadModel);
        onWillUpdateProps((nextProps) => {
            if (nextProps.threadModel !== this.props.threadModel) {
                this._whatsappCheck(nextProps.threadModel);
            }
        });
    },

    _whatsappCheck(threadModel) {
        this.whatsappAvailability.canSend(threadModel).then((available) => {
            if (status(this) !== "destroyed") {
                this.state.canSendWhatsApp = available;
            }
        });
    },

    async onClickWhatsApp() {
        this.closeSearch?.();
        const open = async (thread) => {
            await openWhatsAppComposer(this.whatsappAction, {
                resModel: thread.model,
                resIds: [thread.id],
                onClose: () => {
                    if (status(this) !== "destroyed") {
                        this.load(thread, ["messages"]);
                    }
                },
            });
        };
        if (this.state.thread.id) {
            await open(this.state.thread);
        } else {
            this.onThreadCreated = open;
            await this.props.saveRecord?.();
        }
    },
});
