-- blank the Meta secrets of WhatsApp accounts: a neutralized copy never talks to Meta nor accepts webhooks
-- (empty strings: the columns are NOT NULL; an empty secret or verify token matches nothing)
UPDATE whatsapp_account
   SET token = '',
       app_secret = '',
       webhook_verify_token = '';
