import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("whatsapp_composer_tour", {
    steps: () => [
        {
            content: "Open the WhatsApp composer from the chatter",
            trigger: ".o-mail-Chatter-whatsapp",
            run: "click",
        },
        {
            content: "The first template is proposed",
            trigger: ".modal .o_field_widget[name=template_id] input:value(Tour default)",
        },
        {
            content: "Pick another template",
            trigger: ".modal .o_field_widget[name=template_id] input",
            run: "edit Tour greeting",
        },
        {
            trigger: ".o-autocomplete--dropdown-item a:contains(Tour greeting)",
            run: "click",
        },
        {
            content: "The preview shows the contact's name",
            trigger: ".modal .o_whatsapp_composer_preview:contains(Hello Tour Customer)",
        },
        {
            content: "Type the free text",
            trigger: ".modal .o_field_widget[name=free_text_ids] .o_data_row td[name=value]",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=free_text_ids] .o_data_row td[name=value] input",
            run: "edit TOUR-7",
        },
        {
            content: "One record: the person and their number, which can be corrected",
            trigger: ".modal .o_field_widget[name=recipient_partner_id]:contains(Tour Customer)",
        },
        {
            trigger: ".modal .o_whatsapp_composer_number input:value(+32 470 55 55 55)",
        },
        {
            content: "Send",
            trigger: ".modal-footer button[name=action_send_whatsapp]",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
        {
            content: "The message is in the chatter",
            trigger: ".o-mail-Message-body:contains(your code is TOUR-7)",
        },
        {
            content: "with its WhatsApp delivery status",
            trigger:
                ".o-mail-Message:contains(your code is TOUR-7) .o-mail-Message-notification i.fa-whatsapp",
        },
    ],
});
